"""The config store: vmgroups, privileges, volumes (with reservations), certificates.

``ConfigStore`` is the one interface; ``SqliteStore`` (one file, the embedded
default) and ``PostgresStore`` (several brokers sharing datastores, in
``store_postgres``) differ only in their connection and dialect hooks. A
store object is used by one thread at a time (the broker gives it a thread of
its own).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vdvs.tenancy.store_base import CountingConnection, StoreError, VolumeConflict
from vdvs.tenancy.store_certs import CertRows
from vdvs.tenancy.store_vmgroups import VmgroupRows
from vdvs.tenancy.store_volumes import VolumeRows

__all__ = ["ConfigStore", "SqliteStore", "StoreError", "VolumeConflict", "open_store"]


class ConfigStore(VmgroupRows, VolumeRows, CertRows):
    """Every query and change of the config store, on whichever database a subclass connects to."""


class SqliteStore(ConfigStore):
    """One SQLite file: WAL journal, ``synchronous=FULL`` (a committed reservation survives a power cut)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.location = str(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._db = CountingConnection(conn, self)


def open_store(kind: str, location: str) -> ConfigStore:
    """The store a broker config names: ``sqlite`` (a file path) or ``postgres`` (a libpq DSN)."""
    if kind == "sqlite":
        return SqliteStore(location)
    if kind == "postgres":
        from vdvs.tenancy.store_postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(location)
    raise StoreError(f"unknown config store kind {kind!r} (supported: sqlite, postgres)")
