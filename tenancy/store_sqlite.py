"""The embedded config store: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vdvs.tenancy.config_store import ConfigStore
from vdvs.tenancy.store_base import CountingConnection


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
