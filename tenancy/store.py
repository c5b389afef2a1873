"""Opening the config store a broker config names; the store types, for callers that only need one import.

``ConfigStore`` is the one interface (``config_store``); ``SqliteStore`` is the
embedded default and ``PostgresStore`` (imported only when asked for, so psycopg
is loaded only by brokers that use it) serves several brokers sharing datastores.
"""

from __future__ import annotations

from vdvs.tenancy.config_store import ConfigStore
from vdvs.tenancy.store_base import StoreError, VolumeConflict
from vdvs.tenancy.store_sqlite import SqliteStore

__all__ = ["ConfigStore", "SqliteStore", "StoreError", "VolumeConflict", "open_store"]


def open_store(kind: str, location: str) -> ConfigStore:
    """The store a broker config names: ``sqlite`` (a file path) or ``postgres`` (a libpq DSN)."""
    if kind == "sqlite":
        return SqliteStore(location)
    if kind == "postgres":
        from vdvs.tenancy.store_postgres import PostgresStore

        return PostgresStore(location)
    raise StoreError(f"unknown config store kind {kind!r} (supported: sqlite, postgres)")
