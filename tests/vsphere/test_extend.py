"""Online extend on vcsim: an attached disk grows through ReconfigVM (an edit of its capacity, which
vCenter then reports on the VM's device), a detached one through ExtendVirtualDisk_Task; the guest
(the guest-disk emulator, playing the VM's SCSI layer) sees its device grow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from testkit.guest_disks import GuestDisks, prepare_vm
from testkit.vsphere_env import VsEnv, eventually
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, status_of
from vdvs.plugin import fs_grow
from vdvs.proto import admin_pb2
from vdvs.tenancy import sidecar

MB = 1024 * 1024


def sidecar_mb(vs: VsEnv, name: str) -> int:
    return sidecar.size_mb(sidecar.decode(vs.file(f"{name}.vmfd").read_bytes()))


async def test_an_attached_disk_grows_through_reconfigvm_and_vcenter_reports_it(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"data@{DATASTORE}", {"size": "64mb"}, FILESYSTEMS))
    await bounded(client.attach(f"data@{DATASTORE}"))
    [disk] = vs.insp.disks(vm.uuid)
    assert disk.capacityInKB in (0, 64 * 1024)  # vcsim reads no capacity from an existing disk's file: 0
    volume = await bounded(client.extend(f"data@{DATASTORE}", "192mb"))
    assert volume.capacity_mb == 192
    [disk] = vs.insp.disks(vm.uuid)  # vCenter's own view of the VM's device
    assert (disk.backing.fileName, disk.capacityInKB) == (vs.vmdk("data"), 192 * 1024)
    assert status_of(await bounded(client.get(f"data@{DATASTORE}")))["capacity"]["size"] == "192MB"
    assert sidecar_mb(vs, "data") == 192
    err = await refused(client.extend(f"data@{DATASTORE}", "128mb"))
    assert err.code == 831
    [disk] = vs.insp.disks(vm.uuid)
    assert disk.capacityInKB == 192 * 1024  # a refusal sends nothing
    await bounded(client.detach(f"data@{DATASTORE}"))


async def test_an_admin_extends_a_disk_attached_to_a_vm(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(1)
    await bounded(client.create(f"shared@{DATASTORE}", {"size": "64mb"}, FILESYSTEMS))
    await bounded(client.attach(f"shared@{DATASTORE}"))
    request = admin_pb2.VolumeExtendRequest(volume=f"shared@{DATASTORE}", vmgroup="_DEFAULT", size="1gb")
    reply = await admin(vs.env, "VolumeExtend", request)
    assert (reply.old_size, reply.new_size, reply.attached_to) == ("64MB", "1GB", vm.name)
    [disk] = vs.insp.disks(vm.uuid)
    assert disk.capacityInKB == 1024 * 1024
    await bounded(client.detach(f"shared@{DATASTORE}"))


async def test_a_detached_disk_grows_through_extend_virtual_disk(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"cold@{DATASTORE}", {"size": "64mb"}, FILESYSTEMS))
    flat = vs.file("cold-flat.vmdk")
    before = flat.stat().st_size  # vcsim makes empty disk files
    try:
        volume = await bounded(client.extend(f"cold@{DATASTORE}", "256mb"))
    except Exception as exc:  # an older vcsim build: the method is not there
        if "ExtendVirtualDisk" in str(exc) or "not implemented" in str(exc).lower():
            pytest.skip(f"this vcsim has no ExtendVirtualDisk_Task (rebuild with tools/build-vcsim.sh): {exc}")
        raise
    assert volume.capacity_mb == 256
    assert (before, flat.stat().st_size) == (0, 256 * MB)  # what vcsim's task made of the disk
    assert vs.insp.disks(vm.uuid) == []  # no VM was reconfigured
    assert sidecar_mb(vs, "cold") == 256
    assert status_of(await bounded(client.get(f"cold@{DATASTORE}")))["capacity"]["size"] == "256MB"


async def test_the_guest_sees_its_attached_disk_grow(vs: VsEnv, tmp_path: Path) -> None:
    vm, client = await vs.vm_client(0)
    si = vs.sim.connect()
    await asyncio.to_thread(prepare_vm, si, vm.uuid)
    guest = GuestDisks(vs.sim, {vm.uuid: tmp_path / "dev-disk"})
    await asyncio.to_thread(guest.start)
    try:
        await bounded(client.create(f"seen@{DATASTORE}", {"size": "64mb"}, FILESYSTEMS))
        await bounded(client.attach(f"seen@{DATASTORE}"))
        exposed = await eventually(lambda: guest.exposed(vm.uuid).get(vs.vmdk("seen")), 20, "the guest's device")
        assert fs_grow.device_bytes(exposed) == 64 * MB
        await bounded(client.extend(f"seen@{DATASTORE}", "160mb"))
        await eventually(lambda: fs_grow.device_bytes(exposed) == 160 * MB, 20, "the guest's device to grow")
        assert guest.errors == []
        await bounded(client.detach(f"seen@{DATASTORE}"))
    finally:
        await asyncio.to_thread(guest.close)
