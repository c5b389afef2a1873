"""Attach / detach through the broker on vcsim: PVSCSI placement, unit 7, a second controller, no slot."""

from __future__ import annotations

import asyncio
import json
import shutil

from pyVim.task import WaitForTask
from pyVmomi import vim

from testkit.vsphere_env import VsEnv, eventually
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_of


def free_units(vs: VsEnv, uuid: str) -> list[int]:
    """Units of the VM's first PVSCSI controller no device uses yet, 7 excluded, in order."""
    controller = vs.insp.controllers(uuid)[0]
    used = {d.unitNumber for d in vs.insp.vm(uuid).config.hardware.device if d.controllerKey == controller.key}
    return [u for u in range(16) if u != 7 and u not in used]


async def test_attach_adds_an_independent_disk_on_the_pvscsi_controller(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    controller = vs.insp.controllers(vm.uuid)[0]
    expected_unit = free_units(vs, vm.uuid)[0]
    await bounded(client.create(f"data@{DATASTORE}", {"size": "64mb"}, FILESYSTEMS))

    reply = await bounded(client.attach(f"data@{DATASTORE}"))
    device = reply.device
    assert (device.kind, device.controller_bus, device.unit) == ("scsi", 0, expected_unit)
    assert device.disk_uuid == ""  # vcsim sets no backing uuid; the guest then finds the disk by PCI path
    [disk] = vs.insp.disks(vm.uuid)
    assert disk.backing.fileName == vs.vmdk("data")
    assert disk.backing.diskMode == "independent_persistent"
    assert (disk.controllerKey, disk.unitNumber) == (controller.key, expected_unit)
    assert reply.volume.attached_to_vm == vm.name

    status = status_of(await bounded(client.get(f"data@{DATASTORE}")))
    assert (status["status"], status["attached to VM"]) == ("attached", vm.name)
    assert status["attachedVMDevice"]["unit"] == str(expected_unit)
    sidecar = json.loads(vs.file("data.vmfd").read_text())
    assert (sidecar["status"], sidecar["attachedVMName"], sidecar["attachedVMUuid"]) == ("attached", vm.name, vm.uuid)

    await bounded(client.detach(f"data@{DATASTORE}"))
    assert vs.insp.disks(vm.uuid) == []
    assert vs.file("data.vmdk").exists()  # detach keeps the disk
    assert status_of(await bounded(client.get(f"data@{DATASTORE}")))["status"] == "detached"
    assert json.loads(vs.file("data.vmfd").read_text())["status"] == "detached"
    await bounded(client.detach(f"data@{DATASTORE}"))  # again: nothing to do, success


async def test_attach_again_by_the_same_vm_returns_the_same_unit(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"data@{DATASTORE}", {}, FILESYSTEMS))
    first = await bounded(client.attach(f"data@{DATASTORE}"))
    second = await bounded(client.attach(f"data@{DATASTORE}"))
    assert (second.device.unit, second.device.controller_bus) == (first.device.unit, first.device.controller_bus)
    assert len(vs.insp.disks(vm.uuid)) == 1


async def test_attach_as_persistent_uses_a_persistent_disk(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"snap@{DATASTORE}", {"attach-as": "persistent"}, FILESYSTEMS))
    await bounded(client.attach(f"snap@{DATASTORE}"))
    [disk] = vs.insp.disks(vm.uuid)
    assert disk.backing.diskMode == "persistent"


async def test_units_skip_7_and_a_full_controller_gets_a_second_pvscsi(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    first = vs.insp.controllers(vm.uuid)[0]
    free = free_units(vs, vm.uuid)
    names = [f"v{i:02d}@{DATASTORE}" for i in range(len(free) + 2)]
    hints = []
    for name in names:
        await bounded(client.create(name, {"size": "10mb"}, FILESYSTEMS))
        hints.append((await bounded(client.attach(name))).device)

    assert [(h.controller_bus, h.unit) for h in hints] == [(0, u) for u in free] + [(1, 0), (1, 1)]
    controllers = vs.insp.controllers(vm.uuid)
    assert [c.busNumber for c in controllers] == [0, 1]
    disks = vs.insp.disks(vm.uuid)
    assert sorted(d.unitNumber for d in disks if d.controllerKey == first.key) == free
    assert 7 not in {d.unitNumber for d in disks}
    assert [d.unitNumber for d in disks if d.controllerKey == controllers[1].key] == [0, 1]
    assert all(d.backing.diskMode == "independent_persistent" for d in disks)

    for name in names:
        await bounded(client.detach(name))
    assert vs.insp.disks(vm.uuid) == []


async def test_no_slot_left_gives_vdvs_message(vs: VsEnv) -> None:
    """Four SCSI controllers, every PVSCSI unit taken: vDVS's "maximum number" error, nothing changed."""
    vm, client = await vs.vm_client(0)
    filler = vs.sim.dsdir / "filler"
    filler.mkdir()
    controller = vs.insp.controllers(vm.uuid)[0]
    changes = []
    for i, unit in enumerate(free_units(vs, vm.uuid)):
        for suffix in (".vmdk", "-flat.vmdk"):  # vcsim checks that both exist
            (filler / f"f{i}{suffix}").write_bytes(b"")
        disk = vim.vm.device.VirtualDisk(
            key=-200 - i,
            controllerKey=controller.key,
            unitNumber=unit,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName=f"[{DATASTORE}] filler/f{i}.vmdk", diskMode="persistent"
            ),
        )
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=disk))
    for bus in (1, 2, 3):  # LSI Logic controllers count against the 4, but take no volumes
        lsi = vim.vm.device.VirtualLsiLogicController(key=-10 - bus, busNumber=bus, sharedBus="noSharing")
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=lsi))
    vm_obj = vs.insp.vm(vm.uuid)
    WaitForTask(vm_obj.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes)))
    try:
        await bounded(client.create(f"one-too-many@{DATASTORE}", {}, FILESYSTEMS))
        err = await refused(client.attach(f"one-too-many@{DATASTORE}"))
        assert (err.code, err.message) == (
            632,
            "Failed to place new disk - The maximum number of supported volumes has been reached.",
        )
        assert status_of(await bounded(client.get(f"one-too-many@{DATASTORE}")))["status"] == "detached"
        assert not any("one-too-many" in d.backing.fileName for d in vs.insp.disks(vm.uuid))
    finally:
        devices = vs.insp.vm(vm.uuid).config.hardware.device
        remove = [
            d
            for d in devices
            if (isinstance(d, vim.vm.device.VirtualDisk) and "filler/" in d.backing.fileName)
            or isinstance(d, vim.vm.device.VirtualLsiLogicController)
        ]
        spec = vim.vm.ConfigSpec(
            deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="remove", device=d) for d in remove]
        )
        WaitForTask(vm_obj.ReconfigVM_Task(spec=spec))
        shutil.rmtree(filler, ignore_errors=True)


async def test_parallel_attaches_to_one_vm_get_distinct_units(vs: VsEnv) -> None:
    """Reconfigures of one VM are serialized: without that, two attaches would pick the same free unit."""
    vm, client = await vs.vm_client(0)
    names = [f"p{i}@{DATASTORE}" for i in range(6)]
    for name in names:
        await bounded(client.create(name, {}, FILESYSTEMS))
    replies = await bounded(asyncio.gather(*(client.attach(name) for name in names)))
    units = sorted(r.device.unit for r in replies)
    assert len(set(units)) == 6 and 7 not in units
    assert sorted(d.unitNumber for d in vs.insp.disks(vm.uuid)) == units


async def test_attach_of_a_disk_gone_from_the_datastore_fails_and_keeps_no_claim(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"gone@{DATASTORE}", {}, FILESYSTEMS))
    for suffix in (".vmdk", "-flat.vmdk"):
        vs.file(f"gone{suffix}").unlink()
    err = await refused(client.attach(f"gone@{DATASTORE}"))
    assert err.code == 629
    assert err.message == f"Failed to attach volume gone@{DATASTORE}: {vs.vmdk('gone')} does not exist"
    assert vs.insp.disks(vm.uuid) == []
    store = vs.env.store()
    try:
        assert store.attached_to(vm.uuid) == []
    finally:
        store.close()


async def test_idle_disk_stays_on_the_vm_and_the_next_attach_reuses_its_unit(vs: VsEnv) -> None:
    """Release keeps the disk hot-added, idle: the holder's next attach makes no reconfigure (the
    same unit comes back, reused) and another VM takes it over with one detach and one attach."""
    vm, client = await vs.vm_client(0)
    other_vm, other = await vs.vm_client(1)
    await bounded(client.create(f"data@{DATASTORE}", {}, FILESYSTEMS))
    first = await bounded(client.attach(f"data@{DATASTORE}"))
    assert await bounded(client.release(f"data@{DATASTORE}")) is True
    assert [d.backing.fileName for d in vs.insp.disks(vm.uuid)] == [vs.vmdk("data")]  # still attached
    assert status_of(await bounded(client.get(f"data@{DATASTORE}")))["status"] == "idle"
    again = await bounded(client.attach(f"data@{DATASTORE}"))
    assert (again.reused, again.device.unit) == (True, first.device.unit)

    await bounded(client.release(f"data@{DATASTORE}"))
    taken = await bounded(other.attach(f"data@{DATASTORE}"))
    assert (taken.reused, taken.volume.attached_to_vm) == (False, other_vm.name)
    assert vs.insp.disks(vm.uuid) == []
    assert [d.backing.fileName for d in vs.insp.disks(other_vm.uuid)] == [vs.vmdk("data")]
    await bounded(other.detach(f"data@{DATASTORE}"))
    assert vs.insp.disks(other_vm.uuid) == []


async def test_an_idle_disk_is_detached_when_its_vm_powers_off(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"data@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(client.attach(f"data@{DATASTORE}"))
    await bounded(client.release(f"data@{DATASTORE}"))
    vs.insp.power(vm.uuid, on=False)  # the broker's watcher sees it and detaches

    def detached() -> bool:
        rows = vs.env.store().list_volumes()
        return vs.insp.disks(vm.uuid) == [] and [(r.name, r.attached_vm) for r in rows] == [("data", None)]

    await eventually(detached, timeout_s=30, what="idle disk detached at power-off, and its claim cleared")
