"""Both stores: the accounting queries. The usage report's one GROUP BY (the same rows on SQLite and
PostgreSQL), the volumes it counts one by one (the per-volume metrics), the sweep's allocated-space
updates, and the daily samples trends are drawn from."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP_ID, VM_DS_URL, Privilege, VmGroup
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
WEB = "33333333-3333-3333-3333-333333333333"
DB = "44444444-4444-4444-4444-444444444444"
VM_A = "4213aaaa-0000-0000-0000-000000000001"
MB = 1024 * 1024

reserve = partial(seed.reserve, vmgroup_id=WEB)


@pytest.fixture
def web(store: ConfigStore) -> ConfigStore:
    store.create_vmgroup(VmGroup(WEB, "web", "", DS1))
    return store


def usage_fixture(store: ConfigStore) -> None:
    """Two vmgroups on two datastores: ready, creating and deleting rows, attachments, limits, a label."""
    store.create_vmgroup(VmGroup(DB, "db", "", VM_DS_URL, max_volumes=50))
    store.set_privilege(Privilege(WEB, DS1, True, 0, 2048, max_volume_count=10))
    store.set_privilege(Privilege(WEB, ALL_DS_URL, True, 0, 0, max_volume_count=4))
    store.set_privilege(Privilege(DB, VM_DS_URL, True, 0, 500))
    store.set_privilege(Privilege(DB, DS2, False))  # an access row, no volumes
    reserve(store, "a", 100, ready=True, allocated_bytes=3 * MB)
    b = reserve(store, "b", 200, ready=True, allocated_bytes=5 * MB)
    c = reserve(store, "c", 300, ready=True, allocated_bytes=7 * MB)
    reserve(store, "pending", 400)  # creating: reserved, not provisioned
    store.claim_attach(b, VM_A, "vm-a")
    store.claim_attach(c, VM_A, "vm-a")
    store.release_attach(c, VM_A, None)  # idle: still attached
    reserve(store, "far", 1000, datastore_url=DS2, ready=True, allocated_bytes=2**33)  # past 2**32 bytes
    gone = reserve(store, "going", 50, vmgroup_id=DB, ready=True)
    store.begin_remove(gone)  # being removed: still provisioned
    with store.transaction() as db:
        db.execute("INSERT INTO vmgroup_labels (vmgroup_id, key, value) VALUES (?, 'cost-center', 'cc7')", (DB,))


EXPECTED_ROWS = [
    # id, name, max_volumes, datastore, volumes, provisioned, reserved volumes/MB, allocated, attached, idle,
    # limits_from, quota MB, count limit, label
    (DEFAULT_VMGROUP_ID, "_DEFAULT", None, None, 0, 0, 0, 0, 0, 0, 0, VM_DS_URL, 0, None, None),
    (DB, "db", 50, DS1, 1, 50, 0, 0, 0, 0, 0, VM_DS_URL, 500, None, "cc7"),
    (DB, "db", 50, DS2, 0, 0, 0, 0, 0, 0, 0, DS2, 0, None, "cc7"),
    (WEB, "web", None, DS1, 3, 600, 1, 400, 15 * MB, 2, 1, DS1, 2048, 10, None),
    (WEB, "web", None, DS2, 1, 1000, 0, 0, 2**33, 0, 0, ALL_DS_URL, 0, 4, None),
]


def test_the_usage_report_is_one_group_by_per_vmgroup_and_datastore(web: ConfigStore) -> None:
    usage_fixture(web)
    assert web.usage_rows("cost-center") == EXPECTED_ROWS
    assert [r[:14] for r in web.usage_rows()] == [r[:14] for r in EXPECTED_ROWS]
    assert {r[14] for r in web.usage_rows()} == {None}
    assert {r[14] for r in web.usage_rows("no-such-label")} == {None}
    assert all(type(v) is int for r in web.usage_rows() for v in r[4:11])  # not PostgreSQL's NUMERIC sums


def test_the_usage_report_is_the_same_on_both_stores(stores: Stores, web: ConfigStore, other_stores: Any) -> None:
    other_kind = "postgres" if stores.kind == "sqlite" else "sqlite"
    twin = other_stores(other_kind).open()
    twin.initialize()
    twin.create_vmgroup(VmGroup(WEB, "web", "", DS1))
    for each in (web, twin):
        usage_fixture(each)
    assert web.usage_rows("cost-center") == twin.usage_rows("cost-center") == EXPECTED_ROWS


def test_the_volumes_the_report_counts_one_by_one(web: ConfigStore) -> None:
    usage_fixture(web)
    volumes = sorted(web.volume_usage_rows(), key=lambda v: v[2])
    assert volumes == [
        (WEB, DS1, "a", 100, 3 * MB, False),
        (WEB, DS1, "b", 200, 5 * MB, True),
        (WEB, DS1, "c", 300, 7 * MB, True),  # idle: still attached
        (WEB, DS2, "far", 1000, 2**33, False),
        (DB, DS1, "going", 50, 0, False),  # being removed: still counted
    ]  # "pending" is being created: reserved, not counted
    # what each line of the report adds up
    for row in web.usage_rows():
        mine = [v for v in volumes if (v[0], v[1]) == (row[0], row[3])]
        assert (len(mine), sum(v[3] for v in mine), sum(v[4] for v in mine)) == (row[4], row[5], row[8])
        assert sum(v[5] for v in mine) == row[9]


def test_the_sweep_records_allocated_space_while_the_holder_keeps_the_volume(web: ConfigStore) -> None:
    a = reserve(web, "a", ready=True, allocated_bytes=MB)
    b = reserve(web, "b", ready=True, allocated_bytes=MB)
    web.claim_attach(a, VM_A, "vm-a")
    web.claim_attach(b, VM_A, "vm-a")
    web.clear_attach(b, VM_A, allocated_bytes=9 * MB)  # detached after it was measured: its detach is newer
    assert web.record_allocated([(a, VM_A, 2**34), (b, VM_A, 4 * MB)]) == 1
    assert [(r.name, r.allocated_bytes) for r in web.list_volumes(WEB)] == [("a", 2**34), ("b", 9 * MB)]


def test_daily_samples_hold_the_days_latest_figures(stores: Stores, web: ConfigStore) -> None:
    usage_fixture(web)
    assert web.record_usage_samples("2024-05-01") == 4
    day1 = [  # by day, vmgroup id (web's is the lower), datastore
        ("2024-05-01", WEB, DS1, 600, 15 * MB, 3),
        ("2024-05-01", WEB, DS2, 1000, 2**33, 1),
        ("2024-05-01", DB, DS1, 50, 0, 1),
        ("2024-05-01", DB, DS2, 0, 0, 0),
    ]
    assert stores.open().usage_samples() == day1
    far = web.get_volume(WEB, DS2, "far")
    assert far is not None
    web.delete_volume(far.id)
    reserve(web, "more", 10, ready=True)
    assert web.record_usage_samples("2024-05-02") == 3  # web has nothing on ds2 any more
    assert web.record_usage_samples("2024-05-02") == 3  # again the same day: replaced, not added
    day2 = [
        ("2024-05-02", WEB, DS1, 610, 15 * MB, 4),
        ("2024-05-02", DB, DS1, 50, 0, 1),
        ("2024-05-02", DB, DS2, 0, 0, 0),
    ]
    assert stores.open().usage_samples() == day1 + day2
    assert web.usage_samples(since_day="2024-05-02") == day2
