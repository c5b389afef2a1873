"""Create / get / list / remove over the real gRPC API with mTLS, as a plugin would call them."""

from __future__ import annotations

import asyncio

import pytest

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import (
    FILESYSTEMS,
    assert_clean,
    bounded,
    disk_path,
    ds_url,
    is_vdvs_timestamp,
    read_sidecar,
    refused,
    snapshot,
    status_of,
)
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

MB = 1024 * 1024
VDVS_STATUS_KEYS = {
    "created by VM",
    "created",
    "status",
    "capacity",
    "datastore",
    "diskformat",
    "attach-as",
    "access",
    "clone-from",
    "fstype",
}


@pytest.mark.parametrize("diskformat", ["thin", "zeroedthick", "eagerzeroedthick"])
async def test_lifecycle_per_diskformat(broker_env: BrokerEnv, diskformat: str) -> None:
    vm = await broker_env.enroll("dockervm1")
    client = broker_env.client(vm)

    created = await bounded(client.create("data", {"size": "200mb", "diskformat": diskformat}, FILESYSTEMS))
    assert (created.name, created.datastore, created.full_name) == ("data", "local1", "data@local1")
    assert created.capacity_mb == 200
    assert created.created_at.endswith("+00:00")

    path = disk_path(broker_env, "data")
    assert path.stat().st_size == 200 * MB
    sidecar = read_sidecar(broker_env, "data")
    assert sidecar["created-by"] == "dockervm1"
    assert sidecar["status"] == "detached"
    assert sidecar["volOpts"]["diskformat"] == diskformat

    got = await bounded(client.get("data"))
    status = status_of(got)
    assert set(status) == VDVS_STATUS_KEYS
    assert status["created by VM"] == "dockervm1"
    assert is_vdvs_timestamp(status["created"]), status["created"]
    assert status["status"] == "detached"
    allocated = "0" if diskformat == "thin" else "200MB"
    assert status["capacity"] == {"size": "200MB", "allocated": allocated}
    assert status["datastore"] == "local1"
    assert status["diskformat"] == diskformat
    assert status["attach-as"] == "independent_persistent"
    assert status["access"] == "read-write"
    assert status["clone-from"] == "None"
    assert status["fstype"] == "ext4"
    assert got.full_name == "data@local1"
    assert got.attached_to_vm == ""

    assert await bounded(client.list_names()) == ["data@local1"]
    assert broker_env.rows() == [("data", "ready", ds_url(broker_env))]

    await bounded(client.remove("data"))
    assert await bounded(client.list_names()) == []
    assert not path.exists()
    assert_clean(broker_env)


async def test_short_name_lands_on_the_vm_datastore(broker_env: BrokerEnv) -> None:
    """_DEFAULT's default datastore is _VM_DS: the local backend's vm_datastore, local1."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    volume = await bounded(client.create("short", {}, FILESYSTEMS))
    assert volume.full_name == "short@local1"
    assert disk_path(broker_env, "short").exists()
    assert not disk_path(broker_env, "short", "local2").exists()
    assert (await bounded(client.get("short@local1"))).full_name == "short@local1"
    assert await bounded(client.list_names()) == ["short@local1"]


async def test_datastore_name_is_case_insensitive(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    volume = await bounded(client.create("vol@LOCAL1", {"size": "10mb"}, FILESYSTEMS))
    assert (volume.datastore, volume.full_name) == ("local1", "vol@local1")
    assert disk_path(broker_env, "vol").exists()
    assert (await bounded(client.get("vol@Local1"))).full_name == "vol@local1"
    assert (await bounded(client.get("vol"))).full_name == "vol@local1"
    other = await bounded(client.create("vol@LoCaL2", {"size": "10mb"}, FILESYSTEMS))
    assert other.full_name == "vol@local2"
    assert sorted(await bounded(client.list_names())) == ["vol@local1", "vol@local2"]
    await bounded(client.remove("vol@LOCAL2"))
    await bounded(client.remove("vol@LOCAL1"))
    assert_clean(broker_env)


async def test_second_create_of_same_name_is_volume_exists(broker_env: BrokerEnv) -> None:
    """The plugin treats any 'already exists' as success (vDVS create was idempotent)."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("twice", {"size": "200mb"}, FILESYSTEMS))
    before = snapshot(broker_env)
    for name in ("twice", "twice@local1", "twice@LOCAL1"):
        err = await refused(client.create(name, {"size": "300mb", "access": "read-only"}, FILESYSTEMS))
        assert err.name == "VOLUME_EXISTS"
        assert err.code == 621
        assert err.message == f"File {disk_path(broker_env, 'twice')} already exists"
        assert "already exists" in err.message
    assert snapshot(broker_env) == before
    status = status_of(await bounded(client.get("twice")))
    assert status["capacity"]["size"] == "200MB"  # the options of the 2nd create are ignored
    assert status["access"] == "read-write"


async def test_options_are_persisted_and_shown_by_get(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    opts = {"size": "1gb", "access": "read-only", "attach-as": "persistent", "fstype": "xfs"}
    created = await bounded(client.create("opts", opts, FILESYSTEMS))
    assert (created.access, created.attach_as, created.fstype) == ("read-only", "persistent", "xfs")
    got = await bounded(client.get("opts@local1"))
    status = status_of(got)
    assert status["access"] == "read-only"
    assert status["attach-as"] == "persistent"
    assert status["fstype"] == "xfs"
    assert status["capacity"]["size"] == "1GB"
    assert (got.access, got.attach_as, got.fstype, got.capacity_mb) == ("read-only", "persistent", "xfs", 1024)
    assert read_sidecar(broker_env, "opts")["volOpts"] == {
        "access": "read-only",
        "attach-as": "persistent",
        "diskformat": "thin",
        "fstype": "xfs",
        "size": "1gb",  # as the user gave it, as vDVS kept it
    }


async def test_empty_options_take_vdvs_defaults(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("plain", {}, FILESYSTEMS))
    status = status_of(await bounded(client.get("plain")))
    assert status["capacity"]["size"] == "100MB"
    assert (status["diskformat"], status["attach-as"], status["access"]) == (
        "thin",
        "independent_persistent",
        "read-write",
    )
    assert (status["fstype"], status["clone-from"]) == ("ext4", "None")


@pytest.mark.parametrize("raw", ["ghost", "ghost@local1", "ghost@LOCAL1", "ghost@local2"])
async def test_get_of_missing_volume_names_it(broker_env: BrokerEnv, raw: str) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    err = await refused(client.get(raw))
    datastore = "local2" if raw.endswith("local2") else "local1"
    assert err.code == 620
    assert err.name == "VOLUME_NOT_FOUND"
    assert err.message == f"Volume ghost not found (file: {disk_path(broker_env, 'ghost', datastore)})"
    assert_clean(broker_env)


@pytest.mark.parametrize(
    "raw,full",
    [
        ("v" * 100, "v" * 100 + "@local1"),
        ("Volume-00000", "Volume-00000@local1"),
        ("Volume-0000000", "Volume-0000000@local1"),
        ("Volume-0000000-****-###", "Volume-0000000-****-###@local1"),
        ("abc@@@@local1", "abc@@@@local1"),  # split on the LAST '@'
        ("Volume Space", "Volume Space@local1"),
        ("Volume-你好", "Volume-你好@local1"),
        ("MyVolume_fast.12", "MyVolume_fast.12@local1"),
    ],
    ids=["100-chars", "5-digits", "7-digits", "stars", "many-at", "space", "unicode", "dots"],
)
async def test_valid_vdvs_names_are_accepted(broker_env: BrokerEnv, raw: str, full: str) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    volume = await bounded(client.create(raw, {"size": "10mb"}, FILESYSTEMS))
    assert volume.full_name == full
    assert await bounded(client.list_names()) == [full]
    assert (await bounded(client.get(full))).full_name == full
    await bounded(client.remove(full))
    assert_clean(broker_env)


async def test_capabilities_scope_is_local(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    assert await bounded(client.capabilities()) == "local"


async def test_two_vms_of_default_vmgroup_share_volumes(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("shared", {"size": "10mb"}, FILESYSTEMS))
    assert await bounded(vm2.list_names()) == ["shared@local1"]
    assert status_of(await bounded(vm2.get("shared")))["created by VM"] == "vm1"
    err = await refused(vm2.create("shared", {}, FILESYSTEMS))
    assert err.name == "VOLUME_EXISTS"
    await bounded(vm2.remove("shared@local1"))
    assert await bounded(vm1.list_names()) == []
    assert_clean(broker_env)


async def test_concurrent_creates_of_one_name_make_one_volume(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    calls = [c.create(n, {"size": "10mb"}, FILESYSTEMS) for c in (vm1, vm2) for n in ("same", "same@LOCAL1") * 3]
    results = await bounded(asyncio.gather(*calls, return_exceptions=True))
    made = [r for r in results if not isinstance(r, BaseException)]
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1, results
    assert all(isinstance(r, BrokerError) and r.name == "VOLUME_EXISTS" for r in refusals), refusals
    assert broker_env.rows() == [("same", "ready", ds_url(broker_env))]
    assert [f for f in broker_env.disk_files() if f.endswith(".vmdk")] == [f"local1:{DEFAULT_VMGROUP_ID}/same.vmdk"]
