"""Create / get / list / clone / remove through the real broker (mTLS) on vcsim, both modes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pyVmomi import vim

from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_of

DISK_TYPES = {"thin": "thin", "zeroedthick": "preallocated", "eagerzeroedthick": "eagerZeroedThick"}


@pytest.fixture
def disk_specs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the specs the backend sends to CreateVirtualDisk_Task (a spy: the call still goes through)."""
    seen: list[Any] = []
    original = vim.VirtualDiskManager.CreateVirtualDisk_Task

    def spy(self: Any, name: str, datacenter: Any = None, spec: Any = None) -> Any:
        seen.append((name, spec))
        return original(self, name=name, datacenter=datacenter, spec=spec)

    monkeypatch.setattr(vim.VirtualDiskManager, "CreateVirtualDisk_Task", spy)
    return seen


@pytest.mark.parametrize("diskformat", sorted(DISK_TYPES))
async def test_create_get_remove_per_diskformat(vs: VsEnv, disk_specs: list[Any], diskformat: str) -> None:
    _, client = await vs.vm_client(0)
    created = await bounded(
        client.create(f"data@{DATASTORE}", {"size": "200mb", "diskformat": diskformat}, FILESYSTEMS)
    )
    assert (created.full_name, created.capacity_mb) == (f"data@{DATASTORE}", 200)

    # the first create of a vmgroup on a datastore finds no folder: made, then created again
    assert {name for name, _ in disk_specs} == {vs.vmdk("data")} and len(disk_specs) <= 2
    spec = disk_specs[-1][1]
    assert (spec.diskType, spec.adapterType, spec.capacityKb) == (DISK_TYPES[diskformat], "busLogic", 200 * 1024)
    # vcsim keeps the disk as two files in the datastore directory, plus our JSON sidecar
    assert vs.disk_files() == [
        f"11111111-1111-1111-1111-111111111111/{n}" for n in ("data-flat.vmdk", "data.vmdk", "data.vmfd")
    ]
    sidecar = json.loads(vs.file("data.vmfd").read_text())
    assert sidecar["status"] == "detached"
    assert sidecar["volOpts"]["diskformat"] == diskformat
    assert sidecar["vdvs"]["size-mb"] == 200

    status = status_of(await bounded(client.get(f"data@{DATASTORE}")))
    assert status["datastore"] == DATASTORE
    assert status["diskformat"] == diskformat
    assert status["status"] == "detached"
    # vcsim's disks are empty files without a capacity: the size comes from the sidecar
    assert status["capacity"]["size"] == "200MB"
    assert await bounded(client.list_names()) == [f"data@{DATASTORE}"]

    await bounded(client.remove(f"data@{DATASTORE}"))
    assert vs.disk_files() == []
    assert vs.env.rows() == []
    err = await refused(client.get(f"data@{DATASTORE}"))
    assert err.message == f"Volume data not found (file: {vs.vmdk('data')})"


async def test_short_name_lands_on_the_vms_own_datastore(vs: VsEnv) -> None:
    """_VM_DS (the _DEFAULT vmgroup's default) is the datastore of the VM's .vmx: LocalDS_0 in vcsim."""
    vm, client = await vs.vm_client(0)
    info = await bounded(client.create("short", {}, FILESYSTEMS))
    assert info.full_name == "short@LocalDS_0"
    found = await asyncio.to_thread(vs.backend.find_vm, vm.uuid)
    assert found is not None and found.datastore == "LocalDS_0"
    assert await asyncio.to_thread(vs.backend.disk_exists, vs.disk("short", "LocalDS_0"))
    await bounded(client.remove("short"))
    assert not await asyncio.to_thread(vs.backend.disk_exists, vs.disk("short", "LocalDS_0"))


async def test_create_twice_is_refused_and_keeps_the_first(vs: VsEnv) -> None:
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"once@{DATASTORE}", {"size": "10mb"}, FILESYSTEMS))
    err = await refused(client.create(f"once@{DATASTORE}", {"size": "20mb"}, FILESYSTEMS))
    assert (err.code, err.message) == (621, f"File {vs.vmdk('once')} already exists")
    assert json.loads(vs.file("once.vmfd").read_text())["vdvs"]["size-mb"] == 10


async def test_a_disk_without_a_row_is_reported_never_reused(vs: VsEnv) -> None:
    """A VMDK left on the datastore (another broker, an older store): create says it exists, deletes nothing."""
    _, client = await vs.vm_client(0)
    stray = vs.file("stray.vmdk")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"")
    err = await refused(client.create(f"stray@{DATASTORE}", {}, FILESYSTEMS))
    assert (err.code, err.message) == (621, f"File {vs.vmdk('stray')} already exists")
    assert stray.exists() and vs.env.rows() == []


async def test_clone_copies_the_disk_and_writes_a_new_sidecar(vs: VsEnv) -> None:
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"src@{DATASTORE}", {"size": "50mb", "fstype": "ext3"}, ["ext3"]))
    clone = await bounded(client.create(f"copy@{DATASTORE}", {"clone-from": "src"}, FILESYSTEMS))
    assert (clone.full_name, clone.capacity_mb, clone.fstype) == (f"copy@{DATASTORE}", 50, "ext3")
    assert vs.file("copy.vmdk").exists() and vs.file("copy-flat.vmdk").exists()
    meta = json.loads(vs.file("copy.vmfd").read_text())
    assert meta["volOpts"]["clone-from"] == "src"
    assert meta["vdvs"]["name"] == "copy"
    status = status_of(await bounded(client.get(f"copy@{DATASTORE}")))
    assert (status["clone-from"], status["capacity"]["size"]) == ("src", "50MB")
    assert json.loads(vs.file("src.vmfd").read_text())["vdvs"]["name"] == "src"  # source untouched

    err = await refused(client.create(f"copy2@{DATASTORE}", {"clone-from": "nothere"}, FILESYSTEMS))
    assert (err.code, err.message) == (624, "Could not find volume for cloning nothere")
    for name in ("copy", "src"):
        await bounded(client.remove(f"{name}@{DATASTORE}"))
    assert vs.disk_files() == []


async def test_list_disks_sees_volume_disks_only(vs: VsEnv) -> None:
    """The backend's own listing (reconciliation's cross-check): descriptors, not extents or sidecars."""
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"a@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(client.create(f"b c@{DATASTORE}", {}, FILESYSTEMS))
    (vs.sim.dsdir / "dockvols" / "not-a-volume.vmdk").write_bytes(b"")  # beside, not inside, a vmgroup folder
    names = [(d.datastore, d.name) for d in await asyncio.to_thread(vs.backend.list_disks)]
    assert names == [(DATASTORE, "a"), (DATASTORE, "b c")]
