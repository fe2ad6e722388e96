"""The store: the common schema in SQLite or PostgreSQL, migrated in place, and the saved evaluation runs.

``schema`` declares every table (money as scaled integers, times in UTC), ``database`` opens a store
and upgrades it (``migrations/``), ``runs`` saves, lists and reads evaluation runs and their lines.
"""
