"""The embedded config store: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vdvs.tenancy.config_store import ConfigStore
from vdvs.tenancy.store_base import CountingConnection


class ChangeProbe:
    """Whether any connection has committed to the file since the last look: SQLite's ``data_version``
    on a connection of its own that never writes (so every commit is another's and moves it).

    Asked on the event loop, which it never holds up: the answer is a counter in the WAL index
    (shared memory, no disk read), and with no busy timeout a locked file answers None at once.
    """

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)

    def version(self) -> int | None:
        """The file's change counter as this connection sees it; None when SQLite cannot say now."""
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None

    def close(self) -> None:
        self._conn.close()


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

    def change_probe(self) -> ChangeProbe:
        """A probe of this file's commits, for the broker's cache of the VM path's reads."""
        return ChangeProbe(self.path)
