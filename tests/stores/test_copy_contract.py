"""Both stores as source and as target of `config mv`'s copy: every row of every table arrives,
generated ids carry on past the copied ones, and a target that is not empty is refused untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from testkit.seed import reserve
from tests.stores.conftest import KINDS, Stores
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.join_tokens import new_token
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP_ID, CertRecord, Privilege, VmGroup
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.policies import Policy
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.store_copy import TABLES, copy_store

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
G1 = VmGroup("33333333-3333-3333-3333-333333333333", "g1", "first", DS1)
G2 = VmGroup("44444444-4444-4444-4444-444444444444", "g2", "second, with 'quotes' and ünïcode", ALL_DS_URL)
VM_A, VM_B, VM_C = (f"4213000{i}-0000-0000-0000-00000000000{i}" for i in range(1, 4))


def populate(store: ConfigStore) -> None:
    """A store that has seen some life: vmgroups, VMs, rights, volumes in every state, certificates."""
    for group in (G1, G2):
        store.create_vmgroup(group)
    store.add_vm(VM_A, G1.id, "vm-a")
    store.add_vm(VM_B, G2.id, "vm-b")
    store.set_privilege(Privilege(G1.id, DS1, True, 500, 2000))
    store.set_privilege(Privilege(G2.id, ALL_DS_URL, False, 0, 0))
    store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, DS2, True, 0, 62 * 1024 * 1024))
    for i, serial in enumerate(("0a1b", "0c2d", "0e3f")):
        store.add_cert(CertRecord(serial, (VM_A, VM_B, VM_C)[i], f"vm-{i}", "2030-01-01T00:00:00+00:00", i == 2),
                       f"2024-01-0{i + 1}T00:00:00+00:00")  # fmt: skip
    store.owner = "old-broker"
    made = []
    for n, (group, url) in enumerate([(G1.id, DS1), (G1.id, DS1), (G2.id, DS2), (DEFAULT_VMGROUP_ID, DS2)] * 3):
        made.append(reserve(store, f"vol{n:02d}", 10 + n, vmgroup_id=group, datastore_url=url,
                            options=VolumeOptions(fstype="xfs", access="read-only"), created_by="vm-a",
                            created_by_uuid=VM_A))  # fmt: skip
    for volume_id in made[:-1]:  # the last one stays 'creating'
        store.finish_create(volume_id, allocated_bytes=volume_id * 3 * 1024**3)
    store.delete_volume(made[0])  # a gap in the ids
    store.claim_attach(made[1], VM_A, "vm-a")
    store.release_attach(made[1], VM_A, {"kind": "loop", "path": "/dev/loop3"})
    store.begin_remove(made[2])
    store.update_options(made[3], VolumeOptions(fstype="ext4"))
    store.add_join_token(new_token(G1.id, 3, 3600, 1.7e9, "root").token)
    store.add_policy(Policy("gold", '(("hostFailuresToTolerate" i1))', "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"))
    store.set_privilege(Privilege(G2.id, DS1, True, storage_policy="gold", allowed_policies=("gold", "silver")))


def snapshot(store: ConfigStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, comparable across databases (sorted, floats kept to the millisecond)."""
    found = {}
    for table in TABLES:
        columns, rows = store.export_rows(table)
        found[table] = sorted(
            tuple(round(v, 3) if isinstance(v, float) else v for v in row)
            for row in (dict(zip(columns, r, strict=True)) for r in rows)
            for row in [tuple(row[c] for c in sorted(columns))]
        )
    return found


@pytest.mark.parametrize("target_kind", KINDS)
def test_copy_moves_every_row(stores: Stores, other_stores: Callable[[str], Stores], target_kind: str) -> None:
    source = stores.open()
    source.initialize()
    populate(source)
    before = snapshot(source)
    target = other_stores(target_kind).open()
    counts = copy_store(source, target)
    assert counts == {table: len(before[table]) for table in TABLES}
    assert counts["volumes"] == 11 and counts["certs"] == 3 and counts["vmgroups"] == 3
    assert snapshot(target) == before
    assert snapshot(source) == before  # the source is left as it was
    assert target.schema_version() == source.schema_version()
    target.owner = "old-broker"  # the same broker, restarted on the new store, finds its own unsettled rows
    assert [v.name for v in target.unsettled_volumes()] == ["vol02", "vol11"]
    # the copy is a working store: reservations count the copied rows, new ids follow the copied ones
    assert target.usage_mb(G1.id, DS1) == source.usage_mb(G1.id, DS1)
    new = target.reserve_volume(G1.id, DS1, "after-move", 1, 0, options=VolumeOptions(), created="", created_by="",
                                created_by_uuid="")  # fmt: skip
    assert new.id > max(v.id for v in source.list_volumes(None, states=tuple(source.ALL_STATES)))


@pytest.mark.parametrize("target_kind", KINDS)
def test_copy_refuses_a_target_that_is_not_empty(
    stores: Stores, other_stores: Callable[[str], Stores], target_kind: str
) -> None:
    source = stores.open()
    source.initialize()
    populate(source)
    target = other_stores(target_kind).open()
    target.initialize()
    target.add_cert(CertRecord("ffff", VM_C, "elsewhere", "2030-01-01T00:00:00+00:00", False), "2024-05-01")
    before = snapshot(target)
    with pytest.raises(VdvsError) as info:
        copy_store(source, target)
    assert info.value.err is Err.INTERNAL_ERROR
    assert info.value.message == f"Internal Error(target config store {target.location} is not empty)"
    assert snapshot(target) == before
