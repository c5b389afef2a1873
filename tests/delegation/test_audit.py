"""The audit trail end to end: VMs' volume operations and admins' changes, refusals included, CADF fields,
filters, what a vmgroup admin sees, no secret, retention, switched off, and a clean stop losing nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.delegation.harness import Denv
from tests.tenancy.harness import VM_UUIDS, vm_refused
from vdvs.tenancy.audit import KIND_ADMIN, AuditQuery, AuditRecord
from vdvs.tenancy.store import SqliteStore

WAIT_S = 30.0


def records(env: Denv, *args: str) -> list[dict[str, object]]:
    return env.js("audit", "ls", *args)  # type: ignore[no-any-return]


def brief(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["action"], r["target"], r["outcome"], r["reason"]) for r in rows]


async def test_volume_operations_are_recorded_with_their_vm_vmgroup_and_outcome(denv: Denv) -> None:
    denv.ok("vmgroup", "create", "--name", "own", "--default-datastore", "local1")
    vm = await denv.vm("vm1")
    denv.ok("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm1")
    denv.ok("vmgroup", "access", "set", "--name", "own", "--datastore", "local1", "--volume-maxsize", "100MB")
    await vm.client.create("v1", {"size": "10mb"}, ["ext4"])
    await vm_refused(vm.client.create("v1", {"size": "10mb"}, ["ext4"]))
    await vm_refused(vm.client.create("big", {"size": "1gb"}, ["ext4"]))
    await vm.client.remove("v1")
    rows = records(denv, "--action", "volume.*")
    disk = denv.disk("local1", denv.group_id("own"), "v1")
    assert brief(rows) == [
        ("volume.create", "v1", "success", ""),
        ("volume.create", "v1", "refused", f"File {disk} already exists"),
        ("volume.create", "big", "refused", "Volume size exceeds the max volume size limit"),
        ("volume.remove", "v1", "success", ""),
    ]
    for row in rows:
        assert (row["kind"], row["initiator"], row["initiator_name"], row["role"], row["vmgroup"]) == (
            "volume",
            VM_UUIDS["vm1"],
            "vm1",
            "vm",
            "own",
        )
        assert len(str(row["request_id"])) == 32
    assert len({r["request_id"] for r in rows}) == 4
    by_vm1 = records(denv, "--principal", "vm1")
    assert [r["action"] for r in by_vm1 if r["kind"] == "volume"] == [r["action"] for r in rows]
    assert [r["action"] for r in by_vm1 if r["kind"] == "event"] == ["quota.refused"]  # events are in the trail
    assert records(denv, "--vmgroup", "_DEFAULT") == []


@pytest.mark.usefixtures("needs_root")
async def test_attach_release_and_detach_are_recorded(denv: Denv) -> None:
    vm = await denv.vm("vm1")
    await vm.client.create("v1", {"size": "10mb"}, ["ext4"])
    await vm.client.attach("v1")
    await vm.client.release("v1")
    await vm.client.detach("v1")
    await vm.client.remove("v1")
    assert [(r["action"], r["outcome"], r["vmgroup"]) for r in records(denv, "--action", "volume.*")] == [
        ("volume.create", "success", "_DEFAULT"),
        ("volume.attach", "success", "_DEFAULT"),
        ("volume.release", "success", "_DEFAULT"),
        ("volume.detach", "success", "_DEFAULT"),
        ("volume.remove", "success", "_DEFAULT"),
    ]


async def test_admin_changes_and_refusals_are_recorded_and_a_vmgroup_admin_sees_its_vmgroups_only(denv: Denv) -> None:
    for name in ("own", "other"):
        denv.ok("vmgroup", "create", "--name", name, "--default-datastore", "local1")
    alice = denv.admin("alice")
    denv.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-admin", "--vmgroup", "own")
    alice.ok("vmgroup", "update", "--name", "own", "--description", "by alice")
    alice.refused("vmgroup", "update", "--name", "other", "--description", "by alice")
    alice.refused("vmgroup", "access", "add", "--name", "own", "--datastore", "local2", "--allow-create")
    alice.refused("admin", "ls")
    [admin] = denv.js("admin", "ls")
    everything = records(denv)
    assert brief(everything) == [
        ("vmgroup.create", "name=own", "success", ""),
        ("vmgroup.create", "name=other", "success", ""),
        ("admin.enroll", "name=alice", "success", ""),
        ("grant.add", "principal=admin:alice role=vmgroup-admin vmgroup=own", "success", ""),
        ("vmgroup.update", "name=own", "success", ""),
        ("vmgroup.update", "name=other", "refused", "admin:alice has no vmgroup-admin grant on vmgroup other"),
        ("access.add", "name=own datastore=local2", "refused", "Datastore local2 is not shared into vmgroup own"),
        ("admin.ls", "", "refused", "admin:alice has no platform-admin grant"),
    ]
    assert [(r["initiator"], r["initiator_name"], r["role"], r["kind"]) for r in everything[:1]] == [
        ("root", "root", "platform-admin", "admin")
    ]
    alices = records(denv, "--principal", "admin:alice")
    assert len(alices) == 4
    assert {(r["initiator"], r["initiator_name"]) for r in alices} == {(admin["id"], "admin:alice")}
    assert [r["role"] for r in alices] == ["vmgroup-admin", "", "vmgroup-admin", ""]
    assert records(denv, "--principal", admin["id"]) == alices
    # alice sees the records of her vmgroup, whoever made them, and no other
    assert [(r["action"], r["initiator_name"]) for r in records_as(alice)] == [
        ("vmgroup.create", "root"),
        ("grant.add", "root"),
        ("vmgroup.update", "admin:alice"),
        ("access.add", "admin:alice"),
    ]
    assert (
        alice.refused("audit", "ls", "--vmgroup", "other") == "admin:alice has no vmgroup-admin grant on vmgroup other"
    )
    # what alice tried on "other" is filed under it: its admin sees who tried
    bob = denv.admin("bob")
    denv.ok("admin", "grant", "--principal", "admin:bob", "--role", "vmgroup-admin", "--vmgroup", "other")
    assert [(r["action"], r["initiator_name"], r["outcome"]) for r in records_as(bob)] == [
        ("vmgroup.create", "root", "success"),
        ("vmgroup.update", "admin:alice", "refused"),
        ("audit.ls", "admin:alice", "refused"),
        ("grant.add", "root", "success"),
    ]
    assert denv.refused("audit", "ls", "--since", "yesterday") == (
        "Invalid --since yesterday: give a number and s, m, h or d (e.g. 1h)"
    )
    full = records(denv)
    assert records(denv, "--since", "1h") == full
    assert records(denv, "--limit", "2") == full[-2:]
    assert [r["action"] for r in records(denv, "--action", "grant.add")] == ["grant.add", "grant.add"]


def records_as(who: object, *args: str) -> list[dict[str, object]]:
    return who.js("audit", "ls", *args)  # type: ignore[attr-defined,no-any-return]


async def test_no_record_holds_a_key_or_a_certificate(denv: Denv) -> None:
    denv.admin("alice")
    denv.enroll("vm1", VM_UUIDS["vm1"], denv.root / "bundles" / "vm1")
    text = denv.ok("audit", "ls", "--json")
    assert "BEGIN" not in text and "PRIVATE" not in text
    assert [(r["action"], r["target"]) for r in records(denv)] == [
        ("admin.enroll", "name=alice"),
        ("vm.enroll", f"name=vm1 bios_uuid={VM_UUIDS['vm1']}"),
    ]


def _seed(store_path: Path, *ages_s: float) -> None:
    store = SqliteStore(store_path)
    try:
        now = time.time()
        store.add_audit(
            [
                AuditRecord(now - age, KIND_ADMIN, "r", "root", "root", "", "", "", "seeded", f"age={age:g}", "success")
                for age in ages_s
            ]
        )
    finally:
        store.close()


async def test_records_past_retention_are_pruned_by_the_sweep(short_tmp: Path) -> None:
    env = Denv(short_tmp, audit_retention_days=1.0, sweep_s=0.2)
    assert env.init().rc == 0
    _seed(env.config.store_path, 3 * 86400, 2 * 86400, 60)
    env.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while len(records(env, "--action", "seeded")) != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert [r["target"] for r in records(env, "--action", "seeded")] == ["age=60"]
    finally:
        await env.close()


async def test_audit_switched_off_records_nothing(short_tmp: Path) -> None:
    env = Denv(short_tmp, audit_enabled=False)
    assert env.init().rc == 0
    env.start()
    try:
        vm = await env.vm("vm1")
        await vm.client.create("v1", {"size": "10mb"}, ["ext4"])
        env.ok("vmgroup", "create", "--name", "own", "--default-datastore", "local1")
        assert records(env) == []
    finally:
        await env.close()


async def test_a_clean_stop_writes_the_volume_records_still_waiting(denv: Denv) -> None:
    vm = await denv.vm("vm1")
    await vm.client.create("v1", {"size": "10mb"}, ["ext4"])
    await denv.close()  # SIGTERM at once: the record is still in the broker's buffer
    store = SqliteStore(denv.config.store_path)
    try:
        found = store.list_audit(AuditQuery(action="volume.create"))
    finally:
        store.close()
    assert [(r.action, r.target, r.outcome, r.initiator_name) for r in found] == [
        ("volume.create", "v1", "success", "vm1")
    ]
