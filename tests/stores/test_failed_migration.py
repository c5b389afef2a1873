"""Both stores: a migration that fails halfway rolls back every step, so the store 0.1.0 wrote stays exactly
as it was (schema version, tables, columns, rows) and the vdvs that wrote it still serves from it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stores.conftest import Stores
from tests.stores.v1_fixture import V1_SCHEMA, fixture_rows
from vdvs.tenancy import store_base
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.schema import MIGRATIONS, SCHEMA_VERSION
from vdvs.tenancy.store import StoreError

# A step that changes things (a new column, a new table, rows changed) and then fails.
FAILING_STEP = """
    ALTER TABLE volumes ADD COLUMN upgrade_probe TEXT;
    CREATE TABLE upgrade_probe (id {int} NOT NULL);
    INSERT INTO upgrade_probe VALUES (1);
    UPDATE volumes SET size_mb = 0, state = 'ready';
    DELETE FROM certs;
    INSERT INTO no_such_table VALUES (1);
"""


def code_knowing(monkeypatch: pytest.MonkeyPatch, migrations: tuple[str, ...]) -> None:
    """Run the store code as a vdvs whose schema is ``migrations`` (older: a prefix; newer: more steps)."""
    monkeypatch.setattr(store_base, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_base, "SCHEMA_VERSION", len(migrations))


def tables_and_columns(v1: Stores) -> dict[str, Any]:
    """Every 0.1.0 table's rows, and the columns each table has now (a migration adds, never drops)."""
    found: dict[str, Any] = {}
    for table, (columns, _rows) in fixture_rows().items():
        rows = v1.raw(f"SELECT {', '.join(columns)} FROM {table}")
        every = v1.raw(f"SELECT * FROM {table} LIMIT 1") if rows else []
        found[table] = (sorted(rows, key=repr), len(every[0]) if every else len(columns))
    return found


def test_a_failing_migration_leaves_the_0_1_0_store_as_it_was(v1: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tables_and_columns(v1)
    assert before == {t: (sorted(rows, key=repr), len(cols)) for t, (cols, rows) in fixture_rows().items()}
    code_knowing(monkeypatch, (*MIGRATIONS, FAILING_STEP))
    newer = v1.open()
    with pytest.raises(StoreError) as info:
        newer.check_ready()
    failing = SCHEMA_VERSION + 1
    assert f"migration {failing} of {failing} failed" in str(info.value)
    assert f"rolled back, the store is unchanged at schema {V1_SCHEMA}" in str(info.value)
    v1.close(newer)

    # HEAD's own migrations since 0.1.0 ran in the same transaction: they are undone too
    assert v1.raw("SELECT version FROM schema_version") == [(V1_SCHEMA,)]
    assert tables_and_columns(v1) == before
    probe = "SELECT 1 FROM sqlite_master WHERE name = ?" if v1.kind == "sqlite" else "SELECT to_regclass(?)::text"
    assert v1.raw(probe, ("upgrade_probe",)) in ([], [(None,)])

    # the vdvs that wrote it (its schema is HEAD's first seven migrations) still serves from it
    code_knowing(monkeypatch, MIGRATIONS[:V1_SCHEMA])
    old = v1.open()
    old.check_ready()
    assert old.schema_version() == V1_SCHEMA
    assert sorted(g.name for g in old.list_vmgroups()) == ["_DEFAULT", "db", "web"]
    volumes = {v.name: v for v in old.list_volumes(states=tuple(VolumeState))}
    assert (volumes["idle"].size_mb, volumes["creating"].state) == (300, VolumeState.CREATING)
    assert [c.revoked for c in old.certs_of_vm("42a1b2c3-0000-4000-8000-000000000003")] == [True]

    # and once the failing step is gone, this vdvs migrates it as usual
    monkeypatch.undo()
    head = v1.open()
    head.check_ready()
    assert head.schema_version() == SCHEMA_VERSION
    after = tables_and_columns(v1)
    assert {t: after[t][0] for t in before if t != "schema_version"} == {
        t: rows for t, (rows, _) in before.items() if t != "schema_version"
    }


def test_a_migration_failing_on_a_fresh_store_leaves_it_empty(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    code_knowing(monkeypatch, (*MIGRATIONS, FAILING_STEP))
    fresh = stores.open()
    with pytest.raises(StoreError, match="rolled back, the store is unchanged at schema 0"):
        fresh.initialize()
    assert fresh.schema_version() == 0
    monkeypatch.undo()
    assert fresh.initialize() is True
    assert fresh.schema_version() == SCHEMA_VERSION
