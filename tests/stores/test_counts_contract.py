"""Both stores: volume-count limits decided in the reservation's transaction (rows being created or
deleted count), and the limits kept on privilege and vmgroup rows."""

from __future__ import annotations

from functools import partial

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.authz import CountLimits
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, Privilege, VmGroup
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
WEB = "33333333-3333-3333-3333-333333333333"
DB = "44444444-4444-4444-4444-444444444444"
VM_A = "4213aaaa-0000-0000-0000-000000000001"
MB = 1024 * 1024

reserve = partial(seed.reserve, vmgroup_id=WEB)


def per_datastore(limit: int | None, vmgroup_limit: int | None = None, datastore: str = "ds1") -> CountLimits:
    return CountLimits(limit, vmgroup_limit, "web", datastore)


def refused(store: ConfigStore, name: str, counts: CountLimits, url: str = DS1) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        reserve(store, name, datastore_url=url, counts=counts)
    assert store.get_volume(WEB, url, name) is None  # nothing left behind
    return info.value


@pytest.fixture
def web(store: ConfigStore) -> ConfigStore:
    store.create_vmgroup(VmGroup(WEB, "web", "", DS1))
    return store


def test_a_datastore_count_limit_counts_creating_ready_and_deleting_rows(stores: Stores, web: ConfigStore) -> None:
    limit = per_datastore(3)
    creating = reserve(web, "a", counts=limit)  # still creating: counts
    ready = reserve(web, "b", counts=limit, ready=True)
    web.begin_remove(ready)  # being removed: still counts
    other = stores.open()
    reserve(other, "c", counts=limit)
    err = refused(other, "d", limit)
    assert (err.err, err.message) == (
        Err.VOLUME_COUNT_EXCEED,
        "The volume count of vmgroup web on datastore ds1 would exceed its limit (3 of 3 volumes)",
    )
    reserve(other, "d", datastore_url=DS2, counts=per_datastore(3, datastore="ds2"))  # per datastore
    reserve(other, "x", vmgroup_id=DEFAULT_VMGROUP_ID, counts=limit)  # and per vmgroup
    web.delete_volume(ready)
    reserve(other, "d", counts=limit)  # room again
    web.delete_volume(creating)
    assert web.held(WEB, DS1) == (200, 2)


def test_zero_forbids_and_a_lowered_limit_blocks_without_deleting(web: ConfigStore) -> None:
    assert refused(web, "a", per_datastore(0)).message.endswith("(0 of 0 volumes)")
    for name in ("a", "b", "c"):
        reserve(web, name, ready=True)
    assert refused(web, "d", per_datastore(2)).message.endswith("(3 of 2 volumes)")
    assert web.held(WEB, DS1) == (300, 3)  # nothing deleted
    reserve(web, "d", counts=per_datastore(None))  # no limit


def test_a_vmgroup_count_limit_spans_its_datastores(web: ConfigStore) -> None:
    limit = per_datastore(None, 3)
    reserve(web, "a", counts=limit)
    reserve(web, "b", datastore_url=DS2, counts=per_datastore(None, 3, "ds2"))
    reserve(web, "c", datastore_url=DS2, counts=per_datastore(None, 3, "ds2"))
    err = refused(web, "d", limit)
    assert (err.err, err.code) == (Err.VMGROUP_VOLUME_COUNT_EXCEED, 681)
    assert err.message == "The volume count of vmgroup web on all datastores would exceed its limit (3 of 3 volumes)"
    err = refused(web, "d", per_datastore(1, 3))  # the datastore's own limit is named first
    assert err.message == "The volume count of vmgroup web on datastore ds1 would exceed its limit (1 of 1 volumes)"
    assert web.volume_count(WEB) == 3


def test_count_limits_are_kept_on_privilege_and_vmgroup_rows(stores: Stores, web: ConfigStore) -> None:
    web.set_privilege(Privilege(WEB, DS2, True, 0, 0, max_volume_count=0, alert_at=80))
    web.ensure_privilege(Privilege(WEB, DS2, False))  # an existing row is kept as it is
    other = stores.open()
    assert other.get_privilege(WEB, DS2) == Privilege(WEB, DS2, True, 0, 0, 0, 80)
    web.set_privilege(Privilege(WEB, DS2, True, 0, 0, max_volume_count=None, alert_at=80))
    assert other.get_privilege(WEB, DS2) == Privilege(WEB, DS2, True, 0, 0, None, 80)
    assert other.get_vmgroup(WEB) == VmGroup(WEB, "web", "", DS1, None)
    web.create_vmgroup(VmGroup(DB, "db", "", DS1, max_volumes=0))
    assert other.get_vmgroup_by_name("db") == VmGroup(DB, "db", "", DS1, 0)
    generation = other.read_generation()
    web.set_max_volumes(WEB, 250)
    assert other.read_generation() > generation  # brokers drop their cached vmgroups
    assert other.get_vmgroup(WEB) == VmGroup(WEB, "web", "", DS1, 250)
    web.set_max_volumes(WEB, None)
    assert [g.max_volumes for g in other.list_vmgroups()] == [None, 0, None]  # _DEFAULT, db, web
