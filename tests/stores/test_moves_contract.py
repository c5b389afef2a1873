"""Both stores: a move's two rows (``moving`` on the source, ``arriving`` on the target), reserved under
the target's quotas in one transaction, finished (the row on the target: usage leaves the source)
or aborted (the row back where it was), and found again by reconciliation."""

from __future__ import annotations

from functools import partial

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.authz import CountLimits
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VmGroup, VolumeState
from vdvs.tenancy.store import ConfigStore, VolumeConflict

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
WEB = "33333333-3333-3333-3333-333333333333"
VM_A = "4213aaaa-0000-0000-0000-000000000001"

reserve = partial(seed.reserve, vmgroup_id=WEB)


@pytest.fixture
def web(store: ConfigStore) -> ConfigStore:
    store.create_vmgroup(VmGroup(WEB, "web", "", DS1))
    return store


def states(store: ConfigStore) -> list[tuple[str, str, str]]:
    return sorted((r.name, r.datastore_url, r.state.value) for r in store.list_volumes(WEB, tuple(VolumeState)))


def test_a_move_holds_the_target_quota_and_name_and_finishing_moves_the_usage(stores: Stores, web: ConfigStore) -> None:
    volume = reserve(web, "db", 100, ready=True, allocated_bytes=5)
    row, twin = web.begin_move(volume, DS2, quota_mb=0, shown=("db@ds1", "ds2"))
    assert (row.id, row.state, row.datastore_url) == (volume, VolumeState.MOVING, DS1)
    assert (twin.state, twin.datastore_url, twin.size_mb, twin.created, twin.created_by) == (
        VolumeState.ARRIVING,
        DS2,
        100,
        row.created,
        row.created_by,
    )
    assert (web.move_peer(row.id), web.move_peer(twin.id)) == (DS2, DS1)
    # the reservation counts on both datastores until the move commits
    assert (web.usage_mb(WEB, DS1), web.usage_mb(WEB, DS2)) == (100, 100)
    other = stores.open()
    with pytest.raises(VolumeConflict):  # the name is held on the target: a create there is refused
        reserve(other, "db", 10, datastore_url=DS2)
    with pytest.raises(VdvsError) as info:  # so is a create over the target's quota, counting the move
        reserve(other, "more", 60, 150, datastore_url=DS2)
    assert info.value.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED
    with pytest.raises(VolumeConflict):  # not ready: no remove, no attach, no second move
        other.begin_remove(volume)
    with pytest.raises(VolumeConflict):
        other.claim_attach(volume, VM_A, "vm-a")
    with pytest.raises(VolumeConflict):
        other.begin_move(volume, DS2, 0)
    assert other.move_source(twin) == row

    done = other.finish_move(volume, 4096)
    assert (done.id, done.state, done.datastore_url, done.allocated_bytes, done.created) == (
        volume,
        VolumeState.READY,
        DS2,
        4096,
        row.created,
    )
    assert states(web) == [("db", DS2, "ready")]
    assert (web.usage_mb(WEB, DS1), web.usage_mb(WEB, DS2)) == (0, 100)
    assert web.move_peer(volume) is None
    with pytest.raises(VolumeConflict):
        web.finish_move(volume, 0)


def test_an_aborted_move_leaves_the_volume_where_it_was(web: ConfigStore) -> None:
    volume = reserve(web, "db", 50, ready=True)
    web.begin_move(volume, DS2, 0)
    back = web.abort_move(volume)
    assert (back.state, back.datastore_url) == (VolumeState.READY, DS1)
    assert states(web) == [("db", DS1, "ready")]
    assert (web.usage_mb(WEB, DS1), web.usage_mb(WEB, DS2)) == (50, 0)
    with pytest.raises(VolumeConflict):
        web.abort_move(volume)


def test_the_target_quotas_and_name_refuse_a_move_and_change_nothing(web: ConfigStore) -> None:
    volume = reserve(web, "db", 100, ready=True)
    reserve(web, "taken", 10, ready=True, datastore_url=DS2)
    reserve(web, "there", 30, ready=True, datastore_url=DS2)
    before = states(web)
    with pytest.raises(VdvsError) as info:
        web.begin_move(volume, DS2, quota_mb=120)  # 40 there + 100 > 120
    assert info.value.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED
    with pytest.raises(VdvsError) as info:
        web.begin_move(volume, DS2, 0, CountLimits(2, None, "web", "ds2"))
    assert info.value.err is Err.VOLUME_COUNT_EXCEED
    taken = reserve(web, "taken", 10, ready=True)
    with pytest.raises(VdvsError) as info:
        web.begin_move(taken, DS2, 0, shown=("taken@ds1", "ds2"))
    assert info.value.message == "Failed to move volume taken@ds1: volume taken already exists on datastore ds2"
    assert states(web) == sorted([*before, ("taken", DS1, "ready")])
    # the vmgroup-wide count is not asked: a move adds no volume to the vmgroup
    web.begin_move(volume, DS2, 140, CountLimits(3, 3, "web", "ds2"))


def test_an_attached_volume_cannot_begin_a_move(web: ConfigStore) -> None:
    volume = reserve(web, "db", 10, ready=True)
    web.claim_attach(volume, VM_A, "vm-a")
    with pytest.raises(VolumeConflict) as info:
        web.begin_move(volume, DS2, 0)
    assert info.value.current is not None and info.value.current.attached_vm == VM_A
    assert states(web) == [("db", DS1, "ready")]


def test_reconciliation_finds_both_rows_of_an_interrupted_move(stores: Stores, web: ConfigStore) -> None:
    volume = reserve(web, "db", 10, ready=True)
    web.owner = "broker-a"
    row, twin = web.begin_move(volume, DS2, 0)
    other = stores.open("broker-b")
    assert {r.id for r in other.unsettled_volumes(0.0, ["broker-b"], include_own=False)} == {row.id, twin.id}
    assert other.unsettled_volumes(0.0, ["broker-a", "broker-b"], include_own=False) == []
    # a twin whose move is gone (its row finished elsewhere) is found as such
    other.finish_move(volume, 0)
    assert other.move_source(twin) is None
