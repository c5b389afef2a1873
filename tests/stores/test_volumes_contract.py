"""Both stores: reservations and quotas, conditional transitions, admin listing, and which interrupted
operations a broker sharing the store may settle."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.capacity import Provisioned
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, AttachState, VmGroup, VolumeState
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.store import ConfigStore, VolumeConflict

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
OTHER = "33333333-3333-3333-3333-333333333333"
VM_A = "4213aaaa-0000-0000-0000-000000000001"
VM_B = "4213bbbb-0000-0000-0000-000000000002"
OPTIONS = VolumeOptions(fstype="ext4", attach_as="persistent")


# the rows of this file: OPTIONS, created by docker-vm-1 (VM_A) on DS1 of _DEFAULT unless a test says otherwise
reserve = partial(seed.reserve, options=OPTIONS, created_by_uuid=VM_A)
ready = partial(reserve, ready=True)


def test_a_reservation_is_a_creating_row_until_finished(stores: Stores, store: ConfigStore) -> None:
    volume_id = reserve(store, "vol1", 2048)
    other = stores.open()
    record = other.volume_by_id(volume_id)
    assert record is not None
    assert (record.name, record.datastore_url, record.vmgroup_id, record.size_mb, record.state) == (
        "vol1", DS1, DEFAULT_VMGROUP_ID, 2048, VolumeState.CREATING,
    )  # fmt: skip
    assert record.options == OPTIONS
    assert (record.created_by, record.created_by_uuid, record.attached_vm) == ("docker-vm-1", VM_A, None)
    assert other.get_volume(DEFAULT_VMGROUP_ID, DS1, "vol1") == record
    assert other.list_volumes() == []  # not ready yet
    assert other.listing() == []
    done = store.finish_create(volume_id, allocated_bytes=3 * 1024**3)  # more than 2 GiB in use
    assert other.list_volumes() == [done]
    assert other.volume_by_id(volume_id) == done
    assert done.allocated_bytes == 3 * 1024**3
    assert other.list_volumes(OTHER) == []


def test_quota_counts_reservations_and_deleting_rows(stores: Stores, store: ConfigStore) -> None:
    reserve(store, "a", 600, 1000)  # still creating: counts all the same
    other = stores.open()
    with pytest.raises(VdvsError) as info:
        reserve(other, "b", 500, 1000)
    assert info.value.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED
    assert other.get_volume(DEFAULT_VMGROUP_ID, DS1, "b") is None  # nothing left behind
    reserve(other, "c", 400, 1000)  # exactly the quota
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 1000
    with pytest.raises(VdvsError):
        reserve(store, "d", 1, 1000)
    reserve(store, "d", 1, 1000, datastore_url=DS2)  # quota is per datastore
    c = other.get_volume(DEFAULT_VMGROUP_ID, DS1, "c")
    assert c is not None
    store.finish_create(c.id)
    store.begin_remove(c.id)  # deleting: still counted
    with pytest.raises(VdvsError):
        reserve(store, "e", 400, 1000)
    store.delete_volume(c.id)
    assert other.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 600
    reserve(store, "e", 400, 1000)
    reserve(store, "huge", 62 * 1024 * 1024, 0, datastore_url=DS2)  # 0 = unlimited; 62 TB in MB


def test_a_datastores_provisioned_space_counts_every_vmgroup_and_reservation(store: ConfigStore) -> None:
    """What the over-commit check reads: sizes and space held of every row on one datastore."""
    assert store.datastore_provisioned(DS1) == Provisioned(0, 0)
    ready(store, "a", 300, allocated_bytes=5 * 1024**3)  # sums past 32 bits
    reserve(store, "b", 200)  # still creating: counts all the same
    store.create_vmgroup(VmGroup(OTHER, "other", "", DS1))
    ready(store, "a", 400, vmgroup_id=OTHER, allocated_bytes=1024)
    ready(store, "elsewhere", 700, datastore_url=DS2, allocated_bytes=7)
    assert store.datastore_provisioned(DS1) == Provisioned(900, 5 * 1024**3 + 1024)
    assert store.datastore_provisioned(DS2) == Provisioned(700, 7)


def test_name_conflicts_carry_the_existing_row(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(VmGroup(OTHER, "other", "", DS1))
    first = ready(store, "vol1")
    other = stores.open()
    with pytest.raises(VolumeConflict) as info:
        reserve(other, "vol1", 200)
    assert info.value.current == store.volume_by_id(first)
    reserve(other, "VOL1")  # names are case-sensitive
    reserve(other, "vol1", datastore_url=DS2)  # same name on another datastore
    reserve(other, "vol1", vmgroup_id=OTHER)  # same name in another vmgroup
    with pytest.raises(VdvsError) as gone:  # a vmgroup removed while the create ran
        reserve(other, "vol1", vmgroup_id="55555555-5555-5555-5555-555555555555")
    assert gone.value.err is Err.TENANT_NOT_EXIST
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 200


def test_remove_transitions(store: ConfigStore) -> None:
    volume_id = reserve(store, "vol1")
    with pytest.raises(VolumeConflict) as info:
        store.begin_remove(volume_id)  # still creating
    assert info.value.current is not None and info.value.current.state is VolumeState.CREATING
    store.finish_create(volume_id)
    with pytest.raises(VolumeConflict):
        store.finish_create(volume_id)  # only once
    assert store.begin_remove(volume_id).state is VolumeState.DELETING
    with pytest.raises(VolumeConflict):
        store.begin_remove(volume_id)
    with pytest.raises(VolumeConflict):
        store.claim_attach(volume_id, VM_A, "vm-a")  # not ready
    assert store.abort_remove(volume_id).state is VolumeState.READY
    with pytest.raises(VolumeConflict):
        store.abort_remove(volume_id)


def test_attach_is_exclusive_across_connections(stores: Stores, store: ConfigStore) -> None:
    volume_id = ready(store, "vol1")
    broker_b = stores.open()
    record = store.claim_attach(volume_id, VM_A, "vm-a")
    assert (record.attached_vm, record.attached_vm_name, record.attach_state) == (VM_A, "vm-a", AttachState.ATTACHED)
    with pytest.raises(VolumeConflict) as info:
        broker_b.claim_attach(volume_id, VM_B, "vm-b")
    assert info.value.current is not None and info.value.current.attached_vm_name == "vm-a"
    with pytest.raises(VolumeConflict):
        broker_b.begin_remove(volume_id)  # attached: cannot be removed
    assert broker_b.attached_to(VM_A) == [store.volume_by_id(volume_id)]
    assert store.claim_attach(volume_id, VM_A, "vm-a").attached_vm == VM_A  # the holder again: fine
    device = {"kind": "loop", "path": "/dev/loop7"}
    with pytest.raises(VolumeConflict):
        broker_b.release_attach(volume_id, VM_B, device)  # only the holder releases
    idle = store.release_attach(volume_id, VM_A, device)
    assert (idle.attach_state, idle.device) == (AttachState.IDLE, device)
    with pytest.raises(VolumeConflict):
        broker_b.claim_attach(volume_id, VM_B, "vm-b")  # idle, yet still the holder's
    with pytest.raises(VolumeConflict):
        broker_b.clear_attach(volume_id, VM_B)
    cleared = store.clear_attach(volume_id, VM_A, allocated_bytes=5 * 1024**3)
    assert (cleared.attached_vm, cleared.attach_state, cleared.device, cleared.allocated_bytes) == (
        None, None, None, 5 * 1024**3,
    )  # fmt: skip
    with pytest.raises(VolumeConflict):
        store.clear_attach(volume_id, VM_A)
    assert broker_b.claim_attach(volume_id, VM_B, "vm-b").attached_vm == VM_B  # free for another VM now


def test_takeover_across_connections_wins_once(stores: Stores, store: ConfigStore) -> None:
    """Another broker takes an idle volume from its holder: the holder's re-claim and a second taker lose."""
    volume_id = ready(store, "vol1")
    broker_b, broker_c = stores.open(owner="broker-b"), stores.open(owner="broker-c")
    store.claim_attach(volume_id, VM_A, "vm-a")
    store.release_attach(volume_id, VM_A, None)
    assert broker_b.begin_takeover(volume_id, VM_A).attach_state is AttachState.DETACHING
    with pytest.raises(VolumeConflict):
        broker_c.begin_takeover(volume_id, VM_A)
    with pytest.raises(VolumeConflict):
        store.claim_attach(volume_id, VM_A, "vm-a")
    moved = broker_b.finish_takeover(volume_id, VM_A, VM_B, "vm-b")
    assert (moved.attached_vm, moved.attach_state) == (VM_B, AttachState.ATTACHED)
    assert [r.id for r in broker_b.own_attachments()] == [volume_id]
    assert broker_c.own_attachments() == []


def test_transitions_on_a_missing_row(store: ConfigStore) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.finish_create(999),
        lambda: store.begin_remove(999),
        lambda: store.abort_remove(999),
        lambda: store.claim_attach(999, VM_A, "vm-a"),
        lambda: store.release_attach(999, VM_A, {}),
        lambda: store.begin_takeover(999, VM_A),
        lambda: store.finish_takeover(999, VM_A, VM_B, "vm-b"),
        lambda: store.clear_attach(999, VM_A),
        lambda: store.update_options(999, VolumeOptions()),
    ]
    for call in calls:
        with pytest.raises(VolumeConflict) as info:
            call()
        assert info.value.current is None


def test_update_options(stores: Stores, store: ConfigStore) -> None:
    volume_id = ready(store, "vol1")
    record = store.update_options(volume_id, VolumeOptions(access="read-only"))
    assert record.options == VolumeOptions(access="read-only")
    assert stores.open().volume_by_id(volume_id) == record


def test_admin_listing_gives_plain_rows_with_the_options_text(store: ConfigStore) -> None:
    store.create_vmgroup(VmGroup(OTHER, "other", "", DS1))
    a = ready(store, "a", 100)
    store.claim_attach(a, VM_B, "vm-b")
    ready(store, "b", 200, vmgroup_id=OTHER)
    options = VolumeOptions(fstype="xfs", vsan_policy="gold", diskformat="zeroedthick")
    store.update_options(ready(store, "c", 300, datastore_url=DS2), options)
    reserve(store, "pending")  # not ready: not listed
    rows = sorted(store.listing())
    assert all(type(r) is tuple for r in rows)  # no row objects: ten thousand of them cost real time
    created = "Wed Mar  1 20:06:02 2017"
    assert [(r[:5], r[6:]) for r in rows] == [
        (("a", DS1, DEFAULT_VMGROUP_ID, 100, 0), (VM_B, "vm-b", "docker-vm-1", created, "attached")),
        (("b", DS1, OTHER, 200, 0), (None, None, "docker-vm-1", created, None)),
        (("c", DS2, DEFAULT_VMGROUP_ID, 300, 0), (None, None, "docker-vm-1", created, None)),
    ]
    assert json.loads(rows[2][5]) == options.recorded()
    assert json.loads(rows[0][5])["fstype"] == "ext4"
    assert sorted(r[0] for r in store.listing([OTHER])) == ["b"]
    assert sorted(r[0] for r in store.listing([OTHER, DEFAULT_VMGROUP_ID])) == ["a", "b", "c"]
    assert store.listing([]) == []  # `volume ls --vmgroup PATTERN` matching no vmgroup


def test_unsettled_rows_are_settled_by_their_broker_or_once_abandoned(stores: Stores, store: ConfigStore) -> None:
    """Startup reconciliation's query: own rows, unsigned rows, and another broker's only when abandoned."""
    a, b = stores.open(owner="broker-a"), stores.open(owner="broker-b")
    a_creating = reserve(a, "a-creating")
    b_creating = reserve(b, "b-creating")
    a_deleting = ready(a, "a-deleting")
    b.begin_remove(a_deleting)  # signed by the broker that started the remove, not the creator
    a_detaching = ready(b, "a-detaching")
    b.claim_attach(a_detaching, VM_B, "vm-b")
    a.begin_takeover(a_detaching, VM_B)  # broker a takes it over from VM b
    settled = ready(a, "attached")
    a.claim_attach(settled, VM_A, "vm-a")
    unsigned = reserve(store, "unsigned")  # a store with no owner (single broker, or before migration 3)
    assert [v.id for v in a.unsettled_volumes()] == [a_creating, a_detaching, unsigned]
    assert [v.id for v in b.unsettled_volumes()] == [b_creating, a_deleting, unsigned]
    c = stores.open(owner="broker-c")
    assert [v.id for v in c.unsettled_volumes()] == [unsigned]
    # once older than the abandonment age (its lease ran out), anyone's
    assert [v.id for v in c.unsettled_volumes(time.time() + 1)] == [
        a_creating, b_creating, a_deleting, a_detaching, unsigned,
    ]  # fmt: skip
    # the sweep of a running broker: not its own fresh rows, but those of brokers that stopped beating
    assert [v.id for v in a.unsettled_volumes(0.0, ["broker-a"], include_own=False)] == [b_creating, a_deleting]
    assert a.unsettled_volumes(0.0, ["broker-a", "broker-b"], include_own=False) == []
    # the start time is kept to the second or better (not rounded by a single-precision float)
    stamp = time.time()
    fresh = reserve(stores.open(owner="broker-d"), "fresh")
    assert fresh not in [v.id for v in c.unsettled_volumes(stamp - 1)]
    assert fresh in [v.id for v in c.unsettled_volumes(stamp + 2)]
    assert {tuple(k) for k in store.unsettled_keys()} == {
        (DS1, DEFAULT_VMGROUP_ID, n) for n in ("a-creating", "b-creating", "a-deleting", "unsigned", "fresh")
    }
