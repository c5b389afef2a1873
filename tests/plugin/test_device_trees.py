"""From the broker's attach reply to the guest's block device, on realistic sysfs/devfs trees.

The hints are made by the broker's own code (``VmDevices.hint``, from the VM's controllers,
their ``pciSlotNumber`` and the bridges' in extraConfig, as vSphere reports them); the trees
are what a Linux guest of a VMware VM shows (tests/plugin/guest_tree.py); the plugin's
``wait_for_device`` must find exactly the disk the broker attached, and nothing else.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pyVmomi import vim

from tests.plugin.guest_tree import BRIDGE_SLOTS, GuestTree, pci
from vdvs.broker.backends.vsphere.virtual_machine import UNITS, VmDevices
from vdvs.plugin.devices import DeviceError, wait_for_device
from vdvs.proto import volume_pb2

Device = vim.vm.device
WAIT_S = 5.0  # long enough for a loaded machine; a disk that is there is found at the first look
# scsi0-3 as vSphere places them (scsi<n>.pciSlotNumber) and where the guest then sees them
BEHIND_BRIDGES = {0: (160, pci(0x03, 0)), 1: (224, pci(0x13, 0)), 2: (256, pci(0x1B, 0)), 3: (1184, pci(0x04, 0))}


def disk_uuid(n: int) -> str:
    """A VMDK uuid as vSphere reports ``backing.uuid`` (6000C29 prefix, dashed)."""
    return str(uuid.UUID(f"6000c29{n:025x}")).upper()


def broker_hint(slots: dict[int, int], bus: int, unit: int, uuid_: str = "") -> volume_pb2.DeviceHint:
    """The hint the broker sends for the disk at ``bus``/``unit`` of a VM with PVSCSI controllers at ``slots``."""
    controllers = [
        Device.ParaVirtualSCSIController(
            key=1000 + n, busNumber=n, slotInfo=Device.VirtualDevice.PciBusSlotInfo(pciSlotNumber=slot)
        )
        for n, slot in slots.items()
    ]
    backing = Device.VirtualDisk.FlatVer2BackingInfo(fileName="[ds1] dockvols/g/v.vmdk", uuid=uuid_ or None)
    disk = Device.VirtualDisk(key=2000, controllerKey=1000 + bus, unitNumber=unit, backing=backing)
    hint = VmDevices(None, "vm1", [*controllers, disk], dict(BRIDGE_SLOTS)).hint(disk)
    return volume_pb2.DeviceHint(**hint)


@pytest.fixture
def tree(tmp_path: Path) -> GuestTree:
    guest = GuestTree(tmp_path / "guest")
    guest.vmware_bridges()
    return guest


def letters(n: int) -> str:
    """sda, sdb, ..., sdz, sdaa, ... as the kernel names them."""
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(ord("a") + rest) + name
    return "sd" + name


async def test_every_controller_and_unit_behind_bridges_maps_to_its_own_disk(tree: GuestTree) -> None:
    """4 controllers x 15 units (7 is the controller's), all present at once, found by PCI path alone."""
    slots = {bus: slot for bus, (slot, _) in BEHIND_BRIDGES.items()}
    nodes = {}
    for bus, (_, address) in BEHIND_BRIDGES.items():
        for unit in UNITS:
            nodes[bus, unit] = tree.disk(letters(len(nodes)), address, unit, enable_uuid=False)
    assert len(nodes) == 60 and 7 not in UNITS
    for (bus, unit), node in nodes.items():
        found = await wait_for_device(broker_hint(slots, bus, unit), WAIT_S, tree.root)
        assert found == str(node), f"scsi{bus}:{unit}"


async def test_controllers_on_bus_0_map_by_their_own_slot(tree: GuestTree) -> None:
    slots = {0: 16, 1: 17 + 8}  # 00:10.0 and 00:19.0: no bridge in between
    a = tree.disk("sdb", pci(0, 0x10), 3, enable_uuid=False)
    b = tree.disk("sdc", pci(0, 0x19), 3, enable_uuid=False)
    hint = broker_hint(slots, 0, 3)
    assert (hint.controller_pci_slot, hint.controller_pci_bus) == (16, 16)
    assert await wait_for_device(hint, WAIT_S, tree.root) == str(a)
    assert await wait_for_device(broker_hint(slots, 1, 3), WAIT_S, tree.root) == str(b)


async def test_a_controller_behind_the_pci_bridge_at_another_device_number(tree: GuestTree) -> None:
    """Slot 33: pciBridge0 (00:11.0, bus 02), device 1 there: 0000:02:01.0, not 02:00.0."""
    decoy = tree.disk("sdb", pci(0x02, 0), 2, enable_uuid=False)
    real = tree.disk("sdc", pci(0x02, 1), 2, enable_uuid=False)
    found = await wait_for_device(broker_hint({0: 33}, 0, 2), WAIT_S, tree.root)
    assert found == str(real) and found != str(decoy)


async def test_with_enable_uuid_the_wwn_names_the_disk(tree: GuestTree) -> None:
    """disk.EnableUUID=TRUE: /dev/disk/by-id/wwn-0x<vmdk uuid> is the disk, whatever its unit."""
    node = tree.disk("sdd", BEHIND_BRIDGES[0][1], 5, disk_uuid(1))
    hint = broker_hint({0: 160}, 0, 5, disk_uuid(1))
    assert hint.disk_uuid == disk_uuid(1)
    assert await wait_for_device(hint, WAIT_S, tree.root) == str(node)
    wwn_link = tree.path(f"/dev/disk/by-id/wwn-0x{disk_uuid(1).replace('-', '').lower()}")
    assert wwn_link.is_symlink()


async def test_without_enable_uuid_the_by_path_name_is_used(tree: GuestTree) -> None:
    """The broker knows the uuid, the guest shows no WWN (EnableUUID off): by PCI path and unit."""
    node = tree.disk("sde", BEHIND_BRIDGES[2][1], 9, disk_uuid(2), enable_uuid=False)
    assert not tree.path("/dev/disk/by-id").exists()
    found = await wait_for_device(broker_hint({2: 256}, 2, 9, disk_uuid(2)), WAIT_S, tree.root)
    assert found == str(node)


async def test_a_disk_that_appears_late_is_waited_for(tree: GuestTree) -> None:
    hint = broker_hint({0: 160}, 0, 4, disk_uuid(3))

    async def hot_add() -> Path:
        await asyncio.sleep(0.3)  # the guest's SCSI layer takes a moment after the reconfigure
        return tree.disk("sdf", BEHIND_BRIDGES[0][1], 4, disk_uuid(3))

    adding = asyncio.create_task(hot_add())
    found = await wait_for_device(hint, WAIT_S * 4, tree.root)
    assert found == str(await adding)


async def test_a_disk_at_another_unit_or_controller_is_not_taken(tree: GuestTree) -> None:
    slots = {0: 160, 1: 224}
    tree.disk("sdb", BEHIND_BRIDGES[0][1], 3, enable_uuid=False)  # same controller, another unit
    tree.disk("sdc", BEHIND_BRIDGES[1][1], 4, enable_uuid=False)  # same unit, another controller
    with pytest.raises(DeviceError) as err:
        await wait_for_device(broker_hint(slots, 0, 4), 0.2, tree.root)
    assert f"by-path/pci-{BEHIND_BRIDGES[0][1]}-scsi-0:0:4:0 did not appear" in str(err.value)


async def test_another_disks_wwn_is_not_taken(tree: GuestTree) -> None:
    tree.disk("sdb", BEHIND_BRIDGES[0][1], 1, disk_uuid(10))
    with pytest.raises(DeviceError) as err:
        await wait_for_device(broker_hint({0: 160}, 0, 2, disk_uuid(11)), 0.2, tree.root)
    assert f"wwn-0x{disk_uuid(11).replace('-', '').lower()}" in str(err.value)


async def test_the_previous_disk_still_at_the_unit_is_not_taken_but_its_successor_is(tree: GuestTree) -> None:
    """Unit 6 held disk A (detached, not yet gone from the guest) when disk B was attached there:
    the by-path name leads to A, whose WWN says it is not B; B is taken once the guest shows it."""
    address = BEHIND_BRIDGES[0][1]
    tree.disk("sdb", address, 6, disk_uuid(20))
    hint = broker_hint({0: 160}, 0, 6, disk_uuid(21))
    with pytest.raises(DeviceError):
        await wait_for_device(hint, 0.2, tree.root)

    async def swap() -> Path:
        await asyncio.sleep(0.2)
        tree.remove("sdb")
        return tree.disk("sdc", address, 6, disk_uuid(21), enable_uuid=False)  # shows no WWN link yet

    swapping = asyncio.create_task(swap())
    found = await wait_for_device(hint, WAIT_S * 4, tree.root)
    assert found == str(await swapping)


async def test_a_loop_device_is_taken_only_with_the_right_backing_file(tree: GuestTree) -> None:
    node = tree.loop(3, "/var/lib/vdvs/datastores/local1/dockvols/g/v.vmdk")
    right = volume_pb2.DeviceHint(
        kind="loop", path="/dev/loop3", backing_file="/var/lib/vdvs/datastores/local1/dockvols/g/v.vmdk"
    )
    assert await wait_for_device(right, WAIT_S, tree.root) == str(node)
    wrong = volume_pb2.DeviceHint(kind="loop", path="/dev/loop3", backing_file="/elsewhere/v.vmdk")
    with pytest.raises(DeviceError, match="/dev/loop3 did not appear"):
        await wait_for_device(wrong, 0.2, tree.root)
