"""The SQLite connection every store part shares: one file, WAL, re-entrant transactions.

``synchronous=FULL`` so a committed reservation survives a power cut; every
change runs inside ``BEGIN IMMEDIATE`` so concurrent writers (several
processes included) serialize on the database lock, and a rule that makes
several changes wraps them in one ``transaction()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """The store cannot be used (missing, corrupt, or from a newer vdvs)."""


class VolumeConflict(Exception):
    """A conditional change lost: the volume row is not in the expected state."""

    def __init__(self, current: VolumeRecord | None) -> None:
        super().__init__("volume row changed")
        self.current = current


class StoreBase:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self._db
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._db.execute("COMMIT")

    _tx = transaction

    def schema_version(self) -> int:
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
        if not exists:
            return 0
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def initialize(self) -> bool:
        """Create or migrate the schema; on a fresh store add ``_DEFAULT``. True if created."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"config store {self.path} has schema version {current}, newer than this vdvs "
                f"understands ({SCHEMA_VERSION}); upgrade vdvs"
            )
        with self.transaction() as db:
            if current == 0:
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version VALUES (0)")
            for script in MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            if current == 0:
                self._insert_defaults()
        return current == 0

    def _insert_defaults(self) -> None:
        """Rows a fresh store starts with (overridden by the vmgroup part)."""

    def check_ready(self) -> None:
        """Refuse to serve from a store that was never initialized; migrate an older one."""
        version = self.schema_version()
        if version == 0:
            raise VdvsError(Err.INIT_NEEDED)
        if version != SCHEMA_VERSION:
            self.initialize()
