"""Both stores: a config store 0.1.0 wrote (tests/fixtures/store-v1.sql), opened by this vdvs, is migrated
with nothing lost (every value of every row of every 0.1.0 table, column by column) and reads back through
the store's own API as the 0.1.0 broker and CLI made it."""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.stores.conftest import Stores
from tests.stores.v1_fixture import V1_SCHEMA, fixture_db, fixture_rows, schema_objects
from vdvs.tenancy.audit import AuditQuery
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP_ID, VM_DS_URL, AttachState, Privilege, VolumeState
from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS, SCHEMA_VERSION
from vdvs.tenancy.store import ConfigStore

ROOT = "file:///tmp/vdvs-store-v1/datastores"
LOCAL1, LOCAL2 = f"{ROOT}/local1", f"{ROOT}/local2"
WEB, DB = "c68d0456-5673-437f-9f17-9424fbe0e27e", "b3615dd2-6df6-46c4-b764-b11c456c26a2"
VM1, VM2, VM3, VM4 = (f"42a1b2c3-0000-4000-8000-00000000000{i}" for i in range(1, 5))


def test_the_first_migrations_are_still_the_schema_0_1_0_wrote() -> None:
    """Migrations are append-only: HEAD's first seven, applied as 0.1.0 applied them, give the dump's schema."""
    made = sqlite3.connect(":memory:")
    made.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for script in MIGRATIONS[:V1_SCHEMA]:
        for statement in script.format(**DDL_WORDS["sqlite"]).split(";"):
            if statement.strip():
                made.execute(statement)
    assert schema_objects(made) == schema_objects(fixture_db())
    assert SCHEMA_VERSION >= V1_SCHEMA


def opened(v1: Stores) -> ConfigStore:
    store = v1.open()
    store.check_ready()  # what a broker does on start: migrate an older store
    assert store.schema_version() == SCHEMA_VERSION
    return store


def sort(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def test_every_value_of_every_0_1_0_row_survives_the_migration(v1: Stores) -> None:
    opened(v1)
    for table, (columns, rows) in fixture_rows().items():
        if table == "schema_version":
            continue
        now = v1.raw(f"SELECT {', '.join(columns)} FROM {table}")
        assert sort(now) == sort(rows), table
        for i, column in enumerate(columns):  # column by column, so a failure names the column
            assert sorted(map(repr, (r[i] for r in now))) == sorted(map(repr, (r[i] for r in rows))), (table, column)
    assert len(fixture_rows()["audit"][1]) == 34 and len(fixture_rows()["volumes"][1]) == 9


def test_opening_it_twice_migrates_once(v1: Stores) -> None:
    opened(v1)
    again = v1.open()
    assert again.initialize() is False
    assert again.schema_version() == SCHEMA_VERSION
    assert v1.raw("SELECT COUNT(*) FROM vmgroups") == [(3,)]


def test_vmgroups_privileges_labels_and_members_read_back(v1: Stores) -> None:
    store = opened(v1)
    groups = {g.name: g for g in store.list_vmgroups()}
    assert sorted(groups) == ["_DEFAULT", "db", "web"]
    web = groups["web"]
    assert (web.id, web.description, web.default_datastore_url, web.max_volumes) == (WEB, "web tier", LOCAL1, 20)
    assert (groups["db"].default_datastore_url, groups["db"].max_volumes) == (VM_DS_URL, None)
    assert store.get_privilege(WEB, LOCAL1) == Privilege(WEB, LOCAL1, True, 500, 2048, 10, 80)
    assert store.get_privilege(WEB, LOCAL2) == Privilege(WEB, LOCAL2, False, 0, 0, None, None)
    assert store.get_privilege(DB, ALL_DS_URL) == Privilege(DB, ALL_DS_URL, True, 0, 0)
    assert store.get_privilege(DEFAULT_VMGROUP_ID, LOCAL2) == Privilege(DEFAULT_VMGROUP_ID, LOCAL2, True, 0, 0)
    assert store.labels_of(WEB) == {"env": "prod"} and store.labels_of(DB) == {"env": "prod"}
    assert [(v.uuid, v.name) for v in store.vms_of(WEB)] == [(VM1, "vm1"), (VM2, "vm2")]
    assert [v.name for v in store.vms_of(DB)] == ["vm3"]
    assert store.vmgroup_of_vm(VM4) is None  # never added: it acts as _DEFAULT
    assert store.vm_labels(VM2) == {"tier": "web"}
    [rule] = store.membership_rules()
    assert (rule.vmgroup.name, rule.expr, rule.priority) == ("db", "name=db-*,label:tier=db", 10)
    [share] = store.shares()
    assert (share.datastore_url, share.selector, share.max_volume_size_mb) == (LOCAL2, "env=prod", 1024)


def test_volumes_in_every_state_read_back(v1: Stores) -> None:
    store = opened(v1)
    found = {v.name: v for v in store.list_volumes(states=tuple(VolumeState))}
    assert sorted(found) == ["attached", "attaching", "clone", "creating", "deleting", "detaching", "idle", "other",
                             "ready"]  # fmt: skip
    states = {name: (v.state, v.attach_state, v.attached_vm) for name, v in found.items()}
    assert states["ready"] == (VolumeState.READY, None, None)
    assert states["attached"] == (VolumeState.READY, AttachState.ATTACHED, VM1)
    assert states["idle"] == (VolumeState.READY, None, None)
    assert states["creating"][0] == VolumeState.CREATING and states["deleting"][0] == VolumeState.DELETING
    assert states["attaching"] == (VolumeState.READY, AttachState.ATTACHING, VM1)
    assert states["detaching"] == (VolumeState.READY, AttachState.DETACHING, VM1)
    attached, idle = found["attached"], found["idle"]
    assert (attached.options.access, attached.options.attach_as, attached.size_mb) == ("read-only", "persistent", 50)
    assert (idle.options.fstype, idle.options.diskformat, idle.allocated_bytes) == ("xfs", "zeroedthick", 314572800)
    assert found["clone"].options.clone_from == "ready"
    assert (found["other"].vmgroup_id, found["other"].datastore_url) == (DEFAULT_VMGROUP_ID, LOCAL2)
    assert store.usage_mb(WEB, LOCAL1) == 100 + 50 + 300 + 4 * 20 + 100
    # the broker that left them mid-way is gone: the next broker to start settles exactly these
    unsettled = store.unsettled_volumes(live_brokers=["broker-new"], include_own=False)
    assert sorted(v.name for v in unsettled) == ["attaching", "creating", "deleting", "detaching"]


def test_certificates_admins_grants_tokens_and_audit_read_back(v1: Stores) -> None:
    store = opened(v1)
    certs = {c.vm_name: c for vm in (VM1, VM2, VM3, VM4) for c in store.certs_of_vm(vm)}
    assert {name: c.revoked for name, c in certs.items()} == {"vm1": False, "vm2": False, "vm3": True, "vm4": False}
    assert store.get_cert("337ecc1b297d1156ee38633f3d87c527231a3b31") == certs["vm3"]
    assert store.known_vms() == {VM1: "vm1", VM2: "vm2", VM3: "vm3", VM4: "vm4"}
    admins = {a.name: a for a in store.list_admins()}
    assert (admins["alice"].revoked, admins["bob"].revoked) == (False, True)
    assert admins["alice"].principals == ("admin:alice",)
    grants = {(g.principal, str(g.role), g.vmgroup_id, g.selector) for g in store.grants()}
    assert grants == {("admin:alice", "vmgroup-admin", WEB, ""), ("admin:bob", "vmgroup-viewer", "", "env=prod")}
    [token] = store.join_tokens()
    assert (token.id, token.vmgroup_id, token.max_uses, token.uses_left) == ("e965eed0ce7230cf", WEB, 3, 3)
    records = store.list_audit(AuditQuery(limit=100))
    assert len(records) == 34
    alert = "datastore=local1 quota=count used=8 limit=10 percent=80 alert_at=80"
    assert [(r.action, r.target) for r in records[-3:]] == [
        ("alert.quota.crossed_up", alert),
        ("volume.create", "clone"),
        ("volume.create", "other@local2"),
    ]
    assert store.read_generation() == 30
