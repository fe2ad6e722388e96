"""Ingest: CRM exports and connector records into the common schema, all rows checked before any is written.

``cells`` reads a cell (numbers, dates, times in a zone), ``records`` holds the typed record of each
entity, ``mapping`` maps an export's columns to fields, ``importing`` imports a CSV or XLSX file, and
``loading`` upserts records by source and remote id (what a sync uses too).
"""
