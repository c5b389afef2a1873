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


# What admin listings show, counted: every row written in these tables moves one counter, kept by
# triggers, so a listing kept by the broker outlives the commits that touch neither (its own heartbeat
# lands every second). Not a migration: derived data that no schema version reads, created (if
# missing) by the broker that keeps listings; a backup leaves it out, the next broker makes it again.
LISTED_TABLES = ("volumes", "vmgroups")
_COUNTER_DDL = (
    "CREATE TABLE IF NOT EXISTS listing_changes (n INTEGER NOT NULL)",
    "INSERT INTO listing_changes SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM listing_changes)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_{event.lower()}_counted AFTER {event} ON {table} "
        "BEGIN UPDATE listing_changes SET n = n + 1; END"
        for table in LISTED_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
)


class ListingProbe(ChangeProbe):
    """The counter of LISTED_TABLES' changes, while the schema is the one its triggers were made in:
    a schema change (tables rebuilt, triggers dropped) makes it answer None (keep nothing) for good."""

    def __init__(self, path: Path, schema: int) -> None:
        super().__init__(path)
        self._schema: int | None = schema

    def version(self) -> int | None:
        try:
            if self._schema is None or self._conn.execute("PRAGMA schema_version").fetchone()[0] != self._schema:
                self._schema = None
                return None
            return int(self._conn.execute("SELECT n FROM listing_changes").fetchone()[0])
        except sqlite3.Error:
            return None


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

    def listing_probe(self) -> ListingProbe:
        """The counter of listed rows' changes, its table and triggers made first if missing."""
        with self.transaction() as db:
            for statement in _COUNTER_DDL:
                db.execute(statement)
            schema = int(db.execute("PRAGMA schema_version").fetchone()[0])
        return ListingProbe(self.path, schema)
