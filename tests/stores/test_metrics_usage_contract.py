"""Both stores: the usage figures behind the metrics gauges (tenancy/metrics_usage.py), per vmgroup and
datastore, with the limits that apply there (the datastore's own row, else ``_ALL_DS``)."""

from __future__ import annotations

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.metrics_usage import MB, UsageRow, VolumeUsage, read_usage
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP, DatastoreRef, Privilege, VmGroup
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
GONE = "ds:///vmfs/volumes/gone/"
DATASTORES = [DatastoreRef("ds1", DS1), DatastoreRef("ds2", DS2)]
WEB = "22222222-0000-0000-0000-000000000001"
DB = "22222222-0000-0000-0000-000000000002"
VM = "4213aaaa-0000-0000-0000-000000000001"


def row(
    vmgroup: str,
    datastore: str,
    volumes: int = 0,
    mb: int = 0,
    *,
    allocated_bytes: int = 0,
    attached: int = 0,
    limit_bytes: int | None = None,
    volume_limit: int | None = None,
) -> UsageRow:
    return UsageRow(vmgroup, datastore, volumes, mb * MB, allocated_bytes, attached, limit_bytes, volume_limit)


def setup(stores: Stores, store: ConfigStore) -> None:
    """web: 1000 MB and 5 volumes on ds1, 300 MB on any other datastore (_ALL_DS); db: ds1 only, no
    size quota, a count limit of 0 there, and 7 volumes at most across datastores; _DEFAULT as made."""
    store.create_vmgroup(VmGroup(WEB, "web", "", DS1))
    store.create_vmgroup(VmGroup(DB, "db", "", DS1))
    store.set_privilege(Privilege(WEB, DS1, allow_create=True, usage_quota_mb=1000))
    store.set_privilege(Privilege(WEB, ALL_DS_URL, allow_create=True, usage_quota_mb=300))
    store.set_privilege(Privilege(DB, DS1, allow_create=True))
    # the count limits of schema 6, written directly until the store's own setters land
    stores.raw("UPDATE privileges SET max_volume_count = 5 WHERE vmgroup_id = ? AND datastore_url = ?", (WEB, DS1))
    stores.raw("UPDATE privileges SET max_volume_count = 0 WHERE vmgroup_id = ?", (DB,))
    stores.raw("UPDATE vmgroups SET max_volumes = 7 WHERE id = ?", (DB,))
    seed.reserve(store, "a", 100, vmgroup_id=WEB, datastore_url=DS1, ready=True, allocated_bytes=5 * MB)
    attached = seed.reserve(store, "b", 200, vmgroup_id=WEB, datastore_url=DS1, ready=True, allocated_bytes=3 * 1024**3)
    store.claim_attach(attached, VM, "docker-vm-1")
    seed.reserve(store, "in-flight", 400, vmgroup_id=WEB, datastore_url=DS1)  # creating: not held yet
    seed.reserve(store, "c", 50, vmgroup_id=WEB, datastore_url=DS2, ready=True)
    seed.reserve(store, "d", 10, datastore_url=DS1, ready=True)  # _DEFAULT
    seed.reserve(store, "old", 20, vmgroup_id=DB, datastore_url=GONE, ready=True)


def test_figures_per_vmgroup_and_datastore_with_the_limits_that_apply_there(stores: Stores, store: ConfigStore) -> None:
    setup(stores, store)
    usage = read_usage(stores.open(), DATASTORES)
    assert sorted(usage.rows, key=lambda r: (r.vmgroup, r.datastore)) == [
        # _DEFAULT's _ALL_DS row reaches every datastore seen; it sets no limits
        row(DEFAULT_VMGROUP, "ds1", 1, 10),
        row(DEFAULT_VMGROUP, "ds2"),
        # a count limit of 0 is a limit (creating is forbidden); a size quota of 0 is none.
        # A datastore no longer seen keeps its URL.
        row("db", "ds1", volume_limit=0),
        row("db", GONE, 1, 20),
        # more than 2 GiB in use; the reservation under way is not counted
        row(
            "web",
            "ds1",
            2,
            300,
            allocated_bytes=5 * MB + 3 * 1024**3,
            attached=1,
            limit_bytes=1000 * MB,
            volume_limit=5,
        ),
        row("web", "ds2", 1, 50, limit_bytes=300 * MB),  # from web's _ALL_DS row
    ]
    assert usage.vmgroup_volume_limits == {"db": 7}
    assert usage.volumes == []  # per-volume figures only when asked for


def test_per_volume_figures_when_asked_for(stores: Stores, store: ConfigStore) -> None:
    setup(stores, store)
    usage = read_usage(stores.open(), DATASTORES, per_volume=True)
    assert sorted(usage.volumes, key=lambda v: v.volume) == [
        VolumeUsage("web", "ds1", "a", 100 * MB, 5 * MB, False),
        VolumeUsage("web", "ds1", "b", 200 * MB, 3 * 1024**3, True),
        VolumeUsage("web", "ds2", "c", 50 * MB, 0, False),
        VolumeUsage(DEFAULT_VMGROUP, "ds1", "d", 10 * MB, 0, False),
        VolumeUsage("db", GONE, "old", 20 * MB, 0, False),
    ]


def test_an_empty_store_has_only_the_default_vmgroups_rows(stores: Stores, store: ConfigStore) -> None:
    usage = read_usage(store, DATASTORES)
    assert usage.rows == [row(DEFAULT_VMGROUP, "ds1"), row(DEFAULT_VMGROUP, "ds2")]
    assert (usage.vmgroup_volume_limits, usage.volumes) == ({}, [])
