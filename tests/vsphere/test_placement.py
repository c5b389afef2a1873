"""Pure rules of the vsphere backend, on made-up device lists and faults (no simulator)."""

from __future__ import annotations

from typing import Any

import pytest
from pyVmomi import vim

from vdvs.broker.backends.base import NoDiskSlotError
from vdvs.broker.backends.vsphere.faults import describe, is_lock_fault
from vdvs.broker.backends.vsphere.virtual_machine import NO_SLOT, VmDevices, pci_location, same_disk

Device = vim.vm.device


def pvscsi(key: int, bus: int, slot: int | None = None) -> Any:
    info = Device.VirtualDevice.PciBusSlotInfo(pciSlotNumber=slot) if slot is not None else None
    return Device.ParaVirtualSCSIController(key=key, busNumber=bus, slotInfo=info)


def disk(key: int, controller: int, unit: int, path: str = "[ds] other.vmdk") -> Any:
    backing = Device.VirtualDisk.FlatVer2BackingInfo(fileName=path, diskMode="persistent")
    return Device.VirtualDisk(key=key, controllerKey=controller, unitNumber=unit, backing=backing)


def vm(*devices: Any, extra: dict[str, str] | None = None) -> VmDevices:
    return VmDevices(None, "vm", list(devices), extra or {})


def test_first_free_unit_skips_7() -> None:
    devices = [pvscsi(1000, 0), *(disk(2000 + u, 1000, u) for u in range(7))]
    placement = vm(*devices).placement()
    assert (placement.controller_key, placement.unit, placement.new_controller) == (1000, 8, None)


def test_a_full_pvscsi_gets_a_new_one_on_the_lowest_free_bus() -> None:
    full = [disk(2000 + u, 1000, u) for u in range(16) if u != 7]
    lsi = Device.VirtualLsiLogicController(key=1001, busNumber=1)
    placement = vm(pvscsi(1000, 0), lsi, *full).placement()
    assert placement.unit == 0 and placement.controller_key < 0
    assert isinstance(placement.new_controller, Device.ParaVirtualSCSIController)
    assert placement.new_controller.busNumber == 2


def test_four_controllers_full_is_no_slot() -> None:
    full = [disk(2000 + u, 1000, u) for u in range(16) if u != 7]
    others = [Device.VirtualLsiLogicController(key=1000 + b, busNumber=b) for b in (1, 2, 3)]
    with pytest.raises(NoDiskSlotError) as info:
        vm(pvscsi(1000, 0), *others, *full).placement()
    assert str(info.value) == NO_SLOT


def test_other_devices_on_the_controller_take_units_too() -> None:
    cdrom = Device.VirtualCdrom(key=3000, controllerKey=1000, unitNumber=0)
    assert vm(pvscsi(1000, 0), cdrom).placement().unit == 1


def test_hint_for_a_controller_behind_a_pci_bridge() -> None:
    """Slot 1184 = bus 5 (pciBridge4, at slot 21 = 0x15), function 1: vDVS's arithmetic."""
    devices = vm(
        pvscsi(1000, 1, slot=1184),
        disk(2000, 1000, 3, "[ds] dockvols/g/v.vmdk"),
        extra={"pcibridge4.pcislotnumber": "21"},
    )
    hint = devices.hint(devices.disk("[ds] dockvols/g/v.vmdk"))
    assert hint == {
        "kind": "scsi",
        "controller_pci_slot": 1184,
        "controller_pci_bus": 21,
        "controller_bus": 1,
        "controller_pci_function": 1,  # the guest looks under /sys/bus/pci/devices/0000:00:15.1
        "unit": 3,
        "disk_uuid": "",
    }


def test_hint_slot_from_extra_config_when_slot_info_is_unset() -> None:
    devices = vm(
        pvscsi(1000, 0),
        disk(2000, 1000, 1, "[ds] a.vmdk"),
        extra={"scsi0.pcislotnumber": "160", "pcibridge4.pcislotnumber": "21"},
    )
    assert devices.hint(devices.disk("[ds] a.vmdk"))["controller_pci_bus"] == 21
    assert pci_location(16, {}) == (16, 16)  # on bus 0: the controller is its own "bridge" slot
    assert pci_location(None, {}) == (0, 0)
    assert pci_location(160, {}) == (160, 0)  # bridge unknown: the guest falls back to the slot


def test_same_disk_ignores_the_separator_form() -> None:
    assert same_disk("[ds1]/dockvols/g/v.vmdk", "[ds1] dockvols/g/v.vmdk")
    assert not same_disk("[ds2] dockvols/g/v.vmdk", "[ds1] dockvols/g/v.vmdk")


def test_lock_faults_are_recognised() -> None:
    assert is_lock_fault(vim.fault.FileLocked(file="[ds] a.vmdk"))
    generic = vim.fault.GenericVmConfigFault(
        msg="Failed to add disk 'scsi0:1'.",
        faultMessage=[vim.LocalizableMessage(key="msg.fileio.lock", message="Failed to lock the file")],
    )
    assert is_lock_fault(generic)
    assert not is_lock_fault(vim.fault.GenericVmConfigFault(msg="Invalid configuration for device '0'."))
    assert not is_lock_fault(vim.fault.FileNotFound(file="[ds] a.vmdk"))


def test_describe_names_type_message_and_file() -> None:
    assert describe(vim.fault.FileNotFound(msg="*types.FileNotFound", file="/x/a.vmdk")) == (
        "vim.fault.FileNotFound: file /x/a.vmdk"
    )
    text = describe(
        vim.fault.GenericVmConfigFault(msg="Failed to add disk 'scsi0:1'.", reason="Failed to lock the file")
    )
    assert text == "vim.fault.GenericVmConfigFault: Failed to add disk 'scsi0:1'.; Failed to lock the file"
    assert describe(ConnectionRefusedError(111, "Connection refused")) == "ConnectionRefusedError: Connection refused"
