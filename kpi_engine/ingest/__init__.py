"""Ingest: CRM exports and connector records into the common schema, all rows checked before any is written.

``cells`` reads a cell (numbers, dates, times in a zone) and ``vocabulary`` the codes exports write in
English and Chinese; ``records`` holds the typed record of every entity (with ``org_records`` and
``fact_records``; ``ENTITIES`` in loading order), ``mapping`` maps an export's columns to fields (one
entity, or a whole export), ``tables`` reads CSV and XLSX, ``importing`` imports files and folders all
or nothing, ``references`` and ``loading`` upsert records by their natural key (what a sync uses too),
``templates`` says what a file of each entity looks like and ``stored`` lists what is stored (written
out by ``kpi_engine.render``).
"""
