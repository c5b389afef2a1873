"""The store contract suite runs every test on both config stores: SQLite (a temp file) and PostgreSQL
(a fresh database in the session's cluster). A test gets ``stores`` (open more connections to the
same store) and ``store`` (one connection, initialized)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.postgres import PostgresCluster
from vdvs.tenancy.store import ConfigStore, SqliteStore

KINDS = ["sqlite", "postgres"]


class Stores:
    """One store (a SQLite file or a PostgreSQL database) and every connection a test opened to it."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location
        self._opened: list[ConfigStore] = []

    def open(self, owner: str = "") -> ConfigStore:
        store: ConfigStore
        if self.kind == "sqlite":
            store = SqliteStore(self.location)
        else:
            from vdvs.tenancy.store_postgres import PostgresStore

            store = PostgresStore(self.location)
        store.owner = owner
        self._opened.append(store)
        return store

    def raw(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on a connection of its own (for what the store API cannot do: old schemas, tampering)."""
        store = self.open()
        try:
            with store.transaction() as db:
                cursor = db.execute(sql, args)
                rows = cursor.fetchall() if cursor.description else []
            return [tuple(r) for r in rows]
        finally:
            self.close(store)

    def close(self, store: ConfigStore) -> None:
        store.close()
        self._opened.remove(store)

    def close_all(self) -> None:
        for store in self._opened:
            with contextlib.suppress(Exception):  # a connection a test broke on purpose
                store.close()
        self._opened.clear()


def _make_stores(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str = "config.db") -> Stores:
    if kind == "sqlite":
        return Stores(kind, str(tmp_path / name))
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    database = cluster.create_database()
    request.addfinalizer(lambda: cluster.drop_database(database))
    return Stores(kind, cluster.dsn(database))


@pytest.fixture(params=KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    made = _make_stores(request.param, request, tmp_path)
    try:
        yield made
    finally:
        made.close_all()


@pytest.fixture
def store(stores: Stores) -> ConfigStore:
    s = stores.open()
    assert s.initialize() is True
    return s


@pytest.fixture
def other_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Stores]]:
    """Make further empty stores of either kind (for copying between them)."""
    made: list[Stores] = []

    def make(kind: str) -> Stores:
        new = _make_stores(kind, request, tmp_path, f"other{len(made)}.db")
        made.append(new)
        return new

    try:
        yield make
    finally:
        for each in made:
            each.close_all()


@pytest.fixture
def v1(stores: Stores) -> Stores:
    """The config store 0.1.0 left (tests/fixtures/store-v1.sql), in this test's SQLite file or PostgreSQL database."""
    from tests.stores.v1_fixture import V1_SCHEMA, load_postgres, load_sqlite

    if stores.kind == "sqlite":
        load_sqlite(Path(stores.location))
    else:
        load_postgres(stores.location)
    assert stores.raw("SELECT version FROM schema_version") == [(V1_SCHEMA,)]
    return stores
