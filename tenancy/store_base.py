"""What every config store shares, whatever its database: transactions, schema, the dialect hooks.

The row-handling parts (vmgroups, volumes, certificates) are written once, in
SQL both SQLite and PostgreSQL accept (``?`` placeholders, ``ON CONFLICT``,
``RETURNING``); a store class supplies the connection and the few things the
two spell differently: how a write transaction starts, how concurrent
reservations are serialized, how a JSON field is read, whether a table exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """The store cannot be used (missing, corrupt, or from a newer vdvs)."""


class VolumeConflict(Exception):
    """A conditional change lost: the volume row is not in the expected state."""

    def __init__(self, current: VolumeRecord | None) -> None:
        super().__init__("volume row changed")
        self.current = current


class TripCount:
    """Store round trips since the store was opened: statements run outside a transaction (reads)
    and transactions (each one commit). Counted, so benchmarks report trips per verb exactly."""

    __slots__ = ("reads", "transactions")

    def __init__(self) -> None:
        self.reads = 0
        self.transactions = 0


class CommitProbe(Protocol):
    """Tells, without waiting, whether the store has changed since the last look (see SqliteStore)."""

    def version(self) -> int | None: ...

    def close(self) -> None: ...


class CountingConnection:
    """A database connection that counts the statements its store runs outside a transaction."""

    _CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")

    def __init__(self, conn: Any, store: StoreBase) -> None:
        self.conn = conn
        self._store = store

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        if not self._store._depth and not sql.lstrip()[:9].upper().startswith(self._CONTROL):
            self._store.trips.reads += 1
        return self.conn.execute(sql, args)

    def cursor(self) -> Any:
        if not self._store._depth:
            self._store.trips.reads += 1
        return self.conn.cursor()

    def close(self) -> None:
        self.conn.close()


class StoreBase:
    dialect = "sqlite"
    # A connection-like object: execute(sql, args) -> cursor with fetchone/fetchall/rowcount,
    # rows readable by position and by column name.
    _db: Any

    def __init__(self) -> None:
        self._depth = 0
        self.trips = TripCount()
        # The tenancy generation this store object last committed or was told of (see ``bump``):
        # brokers keep identities, vmgroups and privileges in memory while it stays the same.
        self.generation = 0
        self._pending_generation = 0
        self._generation_lock = threading.Lock()
        self.location = ""  # where the store is, safe to show (no password)
        # The broker this store object works for, recorded on every in-between state it starts,
        # so that with several brokers on one store each settles only its own after a crash.
        self.owner = ""

    def close(self) -> None:
        self._db.close()

    def change_probe(self) -> CommitProbe | None:
        """A probe of every commit to the store, by any connection or process; None where the database
        has no cheap one (PostgreSQL: another broker's commit would need a round trip to see)."""
        return None

    def listing_probe(self) -> CommitProbe | None:
        """A probe of changes to what admin listings show (volume rows, vmgroup names) only: it stays
        put across the commits that touch neither (heartbeats every second, audit records). None
        where the database has no cheap one (PostgreSQL, as ``change_probe``)."""
        return None

    # ------------------------------------------------------------------ dialect hooks
    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")  # SQLite: take the write lock now, not at the first write

    def _lock_usage(self, vmgroup_id: str, datastore_url: str, whole_vmgroup: bool = False) -> None:
        """Serialize reservations on one vmgroup's datastore, and with ``whole_vmgroup`` on all of the
        vmgroup's datastores too (SQLite's write lock already does both)."""

    def _tuples(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for big listings, where a row object per row costs real time."""
        cursor = self._db.cursor()
        cursor.row_factory = None
        return list(cursor.execute(sql, args).fetchall())

    def _table_exists(self, name: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One atomic change; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        self._begin()
        self.trips.transactions += 1
        self._depth = 1
        try:
            yield self._db
        except BaseException:
            self._depth = 0
            self._pending_generation = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._db.execute("COMMIT")
        if self._pending_generation:
            self.advance_generation(self._pending_generation)
            self._pending_generation = 0

    _tx = transaction

    # ------------------------------------------------------------------ tenancy generation
    def bump(self) -> None:
        """Inside a change of identities, vmgroups, membership or privileges: move the generation, so
        every broker's cached view of them is dropped (this one's at commit, others' at their next poll)."""
        row = self._db.execute("UPDATE generation SET value = value + 1 RETURNING value").fetchone()
        self._pending_generation = int(row[0])

    def advance_generation(self, value: int) -> None:
        """Move this object's generation forward (never back: a late poll must not revive stale caches)."""
        with self._generation_lock:
            self.generation = max(self.generation, value)

    def read_generation(self) -> int:
        row = self._db.execute("SELECT value FROM generation").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        if not self._table_exists("schema_version"):
            return 0
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migration_guard(self) -> None:
        """Keep two processes from migrating one store at once (SQLite's write lock already does)."""

    def initialize(self) -> bool:
        """Create or migrate the schema; on a fresh store add ``_DEFAULT``. True if created.

        Every pending migration runs in this one transaction (statement by statement, never through
        SQLite's ``executescript``, which commits first): a failing step leaves the store exactly as it
        was, still usable by the vdvs that wrote it."""
        with self.transaction() as db:
            self._migration_guard()
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"config store {self.location} has schema version {current}, newer than this vdvs "
                    f"understands ({SCHEMA_VERSION}); upgrade vdvs"
                )
            if current == 0:
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version VALUES (0)")
            words = DDL_WORDS[self.dialect]
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                try:
                    for statement in script.format(**words).split(";"):
                        if statement.strip():
                            db.execute(statement)
                except Exception as exc:  # the transaction rolls back every step: the store stays as it was
                    raise StoreError(
                        f"config store {self.location}: migration {number} of {SCHEMA_VERSION} failed "
                        f"({type(exc).__name__}: {exc}); rolled back, the store is unchanged at schema {current}"
                    ) from exc
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

    # ------------------------------------------------------------------ moving a store
    def export_rows(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Every row of one table, with its column names (for `config mv`)."""
        cursor = self._db.execute(f"SELECT * FROM {table}")
        columns = [column[0] for column in cursor.description]
        return columns, [tuple(row) for row in cursor.fetchall()]

    def clear_table(self, table: str) -> None:
        self._db.execute(f"DELETE FROM {table}")

    def import_rows(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        for row in rows:
            self._db.execute(sql, row)

    def after_import(self) -> None:
        """Bring generated ids past the imported ones (PostgreSQL identity columns)."""
