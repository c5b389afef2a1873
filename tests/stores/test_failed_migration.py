"""Both stores: a migration that fails halfway rolls back every step, so the store 0.1.0 wrote stays exactly
as it was (schema version, tables, columns, rows) and the vdvs that wrote it still serves from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.release_v1 import ReleaseUnavailable, extract_release_v1, old_python
from tests.stores.conftest import Stores
from tests.stores.v1_fixture import V1_SCHEMA, fixture_rows
from vdvs.tenancy import store_base
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


# What 0.1.0 reads of its store, with 0.1.0's code: the vdvs that wrote the store must still serve from it.
OLD_READ = """
import json
from vdvs.tenancy.model import VolumeState
if "{kind}" == "sqlite":
    from vdvs.tenancy.store import SqliteStore as Store
else:
    from vdvs.tenancy.store_postgres import PostgresStore as Store
store = Store({location!r})
store.check_ready()
volumes = {{v.name: v for v in store.list_volumes(states=tuple(VolumeState))}}
print(json.dumps({{
    "schema": store.schema_version(),
    "vmgroups": sorted(g.name for g in store.list_vmgroups()),
    "idle_size": volumes["idle"].size_mb,
    "creating_state": volumes["creating"].state.value,
    "vm3_revoked": [c.revoked for c in store.certs_of_vm("42a1b2c3-0000-4000-8000-000000000003")],
}}))
store.close()
"""


@pytest.fixture(scope="module")
def release_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return extract_release_v1(tmp_path_factory.mktemp("release-v1"))
    except ReleaseUnavailable as exc:
        pytest.skip(str(exc))


def test_a_failing_migration_leaves_the_0_1_0_store_as_it_was(
    v1: Stores, monkeypatch: pytest.MonkeyPatch, release_v1: Path
) -> None:
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

    # the vdvs that wrote it still serves from it: 0.1.0's own store code, run as 0.1.0 (testkit.release_v1)
    served = json.loads(old_python(release_v1, OLD_READ.format(kind=v1.kind, location=v1.location)))
    assert served == {
        "schema": V1_SCHEMA,
        "vmgroups": ["_DEFAULT", "db", "web"],
        "idle_size": 300,
        "creating_state": "creating",
        "vm3_revoked": [True],
    }

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
