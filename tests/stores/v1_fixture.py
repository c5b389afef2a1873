"""The 0.1.0 config store (tests/fixtures/store-v1.sql) as 0.1.0 left it, on SQLite or on PostgreSQL.

SQLite: the dump itself, replayed into a new file. PostgreSQL: 0.1.0 made its tables with the first
``V1_SCHEMA`` migrations formatted for PostgreSQL (migrations are append-only: HEAD's first seven are
0.1.0's, which ``test_upgrade_from_v1`` checks against the dump's own CREATE statements), then the dump's
rows are inserted with plain SQL (not HEAD's store code), and the identity sequences set past them as
0.1.0's use would have.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v1.sql"
V1_SCHEMA = 7  # the schema 0.1.0 wrote (tests/fixtures/README.md)
SERIAL_TABLES = ("volumes", "grants", "datastore_shares", "membership_rules", "audit")

Tables = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def fixture_db() -> sqlite3.Connection:
    """The dump in an in-memory SQLite database."""
    db = sqlite3.connect(":memory:")
    db.executescript(FIXTURE.read_text())
    return db


def schema_objects(db: sqlite3.Connection) -> set[tuple[str, str, str]]:
    """(type, name, CREATE statement) of every table and index, whitespace-normalized."""
    rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {(kind, name, " ".join(sql.split())) for kind, name, sql in rows}


def v1_tables(db: sqlite3.Connection) -> list[str]:
    """The dump's tables in the order 0.1.0's migrations made them (parents first)."""
    order = {name: i for i, (name,) in enumerate(db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    made = [t for script in MIGRATIONS[:V1_SCHEMA] for t in _created(script)]
    assert sorted([*made, "schema_version"]) == sorted(order), "the dump's tables are 0.1.0's"
    return ["schema_version", *made]


def _created(script: str) -> list[str]:
    return [line.split()[2] for line in script.splitlines() if line.strip().startswith("CREATE TABLE")]


def fixture_rows() -> Tables:
    """Every table of the dump: its column names and its rows, exactly as 0.1.0 stored them."""
    db = fixture_db()
    try:
        found: Tables = {}
        for table in v1_tables(db):
            cursor = db.execute(f'SELECT * FROM "{table}"')
            found[table] = ([c[0] for c in cursor.description], [tuple(r) for r in cursor.fetchall()])
        return found
    finally:
        db.close()


def load_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(FIXTURE.read_text())
    finally:
        db.close()


def load_postgres(dsn: str) -> None:
    """0.1.0's schema and the dump's rows in the (empty) database ``dsn`` names."""
    rows = fixture_rows()
    with psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for script in MIGRATIONS[:V1_SCHEMA]:
            for statement in script.format(**DDL_WORDS["postgres"]).split(";"):
                if statement.strip():
                    conn.execute(statement)  # type: ignore[call-overload]
        for table, (columns, values) in rows.items():
            conn.execute(f"DELETE FROM {table}")  # type: ignore[call-overload]  # migration 4's generation row
            marks = ", ".join(["%s"] * len(columns))
            for row in values:
                conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", row)  # type: ignore[call-overload]
        for table in SERIAL_TABLES:
            conn.execute(  # type: ignore[call-overload]
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )


def read_table(conn: Any, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """The given columns of every row of ``table`` on an open DB-API connection (either database)."""
    return [tuple(r) for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()]
