"""PostgreSQL config store, for several brokers sharing datastores (psycopg 3).

The rows are the SQLite store's; what changes is concurrency. With two
brokers there is no process-wide lock, so every reservation takes a
transaction-scoped advisory lock on its (vmgroup, datastore) before it sums
usage and inserts: racing creates on two brokers cannot overshoot a quota.
Attach claims are single conditional UPDATEs, which PostgreSQL row locks make
atomic across connections. Schema migrations take an advisory lock too, so two
brokers starting together migrate once.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from vdvs.tenancy.config_store import ConfigStore
from vdvs.tenancy.store_base import CountingConnection

_MIGRATION_LOCK = 0x76647673  # "vdvs"
SERIAL_TABLES = ("volumes", "grants", "datastore_shares", "membership_rules", "audit")  # tables with an identity id
# libpq's key=value form: spaces around '=', a value bare or in single quotes with \\ escapes
_KV_SECRET = re.compile(r"\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)
_URI = re.compile(r"(postgres(?:ql)?://)([^?#]*)(.*)", re.IGNORECASE | re.DOTALL)
_URI_SECRET = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def redact(dsn: str) -> str:
    """A DSN fit for logs and status output: its password (and key passphrase) replaced by ***.

    Errs on the side of hiding: in a URI, everything between ``user:`` and the last ``@`` before
    the path goes, since an unencoded ``@`` or ``/`` in a password is a common mistake.
    """
    uri = _URI.fullmatch(dsn.strip())
    if uri is None:
        return _KV_SECRET.sub(lambda m: m.group(1) + "***", dsn)
    scheme, authority_and_path, query = uri.groups()
    if "@" in authority_and_path:
        userinfo, hosts_and_path = authority_and_path.rsplit("@", 1)
        if ":" in userinfo:
            authority_and_path = f"{userinfo.split(':', 1)[0]}:***@{hosts_and_path}"
    return scheme + authority_and_path + _URI_SECRET.sub(lambda m: m.group(1) + "***", query)


class Row(tuple[Any, ...]):
    """A result row readable by position (unpacking) and by column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


def _rows(cursor: Any) -> RowMaker[Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or [])}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


class PgConnection:
    """A psycopg connection speaking the SQLite store's SQL (``?`` placeholders), reconnecting when
    it finds the server gone between transactions (a restarted or failed-over PostgreSQL)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn = self._connect()
        self._in_tx = False

    def _connect(self) -> psycopg.Connection[Row]:
        return psycopg.connect(self._dsn, autocommit=True, row_factory=_rows, connect_timeout=10)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        statement = sql.replace("?", "%s")
        keyword = sql.lstrip()[:8].upper()
        try:
            cursor = self._conn.execute(statement, tuple(args))  # type: ignore[call-overload]
        except psycopg.OperationalError:
            lost = self._conn.broken or self._conn.closed
            if self._in_tx and not keyword.startswith("BEGIN"):
                self._in_tx = False
                raise  # the transaction died (with the connection, or canceled): the change did not happen
            if not lost:
                raise  # the statement failed (canceled, timed out, ...), not the connection: not retried
            self._reconnect()
            cursor = self._conn.execute(statement, tuple(args))  # type: ignore[call-overload]
        if keyword.startswith("BEGIN"):
            self._in_tx = True
        elif keyword.startswith(("COMMIT", "ROLLBACK")):
            self._in_tx = False
        return cursor

    def _reconnect(self) -> None:
        old, self._conn = self._conn, self._connect()
        with contextlib.suppress(psycopg.Error):
            old.close()

    def close(self) -> None:
        self._conn.close()


class PostgresStore(ConfigStore):
    dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self.location = redact(dsn)
        self._db = CountingConnection(PgConnection(dsn), self)

    def _begin(self) -> None:
        self._db.execute("BEGIN")

    def _lock_usage(self, vmgroup_id: str, datastore_url: str, whole_vmgroup: bool = False) -> None:
        """The (vmgroup, datastore) lock, then, for a vmgroup-wide count, the vmgroup's: every
        reservation takes them in that order, so two never wait on each other in a cycle."""
        key = f"{vmgroup_id}|{datastore_url}"
        if not whole_vmgroup:
            self._db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))
            return
        self._db.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0)), pg_advisory_xact_lock(hashtextextended(?, 0))",
            (key, f"{vmgroup_id}|*"),
        )

    def _migration_guard(self) -> None:
        self._db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def _tuples(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._db.execute(sql, args).fetchall()]

    def _table_exists(self, name: str) -> bool:
        row = self._db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()
        return bool(row[0])

    def after_import(self) -> None:
        for table in SERIAL_TABLES:  # identity columns continue past the imported ids
            self._db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
