"""Find the block device an attach produced, from the broker's device hint, within a deadline.

- ``loop`` (local backend): the device node exists and its backing file is the disk.
- ``scsi`` (vSphere): the disk appears as ``/dev/disk/by-id/wwn-0x<disk uuid>`` when the VM has
  ``disk.EnableUUID=TRUE``, else (as vDVS found it) under ``/dev/disk/by-path`` by the PVSCSI
  controller's PCI address and the disk's unit: ``pci-0000:<bus>:<dev>.0-scsi-0:0:<unit>:0``.

How a hint becomes a PCI address (the broker computes the hint from the VM's ``pciSlotNumber``\\ s,
``broker/backends/vsphere/virtual_machine.py``):

- a controller right on PCI bus 0 (slot 1-31) is ``0000:00:<slot>.0``;
- a controller behind a bridge (slot 32 and up: bits 5-9 name the bridge, bits 10-12 its function)
  sits on the bridge's secondary bus, which the guest lists in
  ``/sys/bus/pci/devices/0000:00:<bridge slot>.<function>/pci_bus/``, as device ``slot & 31``.

A by-path name only says "whatever disk is at that unit now". When the hint carries the disk's
uuid and the device at that unit reports another WWN (``/sys/block/<dev>/device/wwid``: the
disk that was there before, not yet gone from the guest), it is not taken.

Every path is looked up under ``root`` (``/`` in production; tests build sysfs/devfs trees in
a temp directory).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from vdvs.proto import volume_pb2

POLL_S = 0.02
ROOT = Path("/")
_SLOT_DEVICE_MASK = 31  # bits 0-4 of a pciSlotNumber: the device number on its bus


class DeviceError(Exception):
    pass


def _under(root: Path, path: str) -> Path:
    """``path`` (absolute, as the guest names it) inside ``root``."""
    return root / path.lstrip("/")


def _loop_ready(hint: volume_pb2.DeviceHint, root: Path) -> str | None:
    name = os.path.basename(hint.path)
    try:
        backing = _under(root, f"/sys/block/{name}/loop/backing_file").read_text().rstrip("\n")
    except OSError:
        return None
    device = _under(root, hint.path)
    if device.exists() and backing == hint.backing_file:
        return str(device)
    return None


def wwn(disk_uuid: str) -> str:
    """The WWN a VMware disk shows the guest (with ``disk.EnableUUID``): its VMDK uuid as hex."""
    return disk_uuid.replace("-", "").replace(" ", "").lower()


def _by_id(hint: volume_pb2.DeviceHint) -> str | None:
    return f"/dev/disk/by-id/wwn-0x{wwn(hint.disk_uuid)}" if hint.disk_uuid else None


def _by_path(hint: volume_pb2.DeviceHint, root: Path) -> list[str]:
    """The by-path names the disk may have: behind its bridge, or on bus 0."""
    suffix = f"-scsi-0:0:{hint.unit}:0"
    found = []
    slot = hint.controller_pci_slot
    if slot > _SLOT_DEVICE_MASK and hint.controller_pci_bus > 0:
        bridge = f"/sys/bus/pci/devices/0000:00:{hint.controller_pci_bus:02x}.{hint.controller_pci_function}/pci_bus"
        try:
            buses = sorted(os.listdir(_under(root, bridge)))
        except OSError:
            buses = []
        device = slot & _SLOT_DEVICE_MASK
        found += [f"/dev/disk/by-path/pci-{bus}:{device:02x}.0{suffix}" for bus in buses]
    elif 0 < slot <= _SLOT_DEVICE_MASK:  # a controller right on bus 0
        found.append(f"/dev/disk/by-path/pci-0000:00:{slot:02x}.0{suffix}")
    return found


def _scsi_candidates(hint: volume_pb2.DeviceHint, root: Path) -> list[str]:
    by_id = _by_id(hint)
    return ([by_id] if by_id else []) + _by_path(hint, root)


def _other_disk(device: Path, hint: volume_pb2.DeviceHint, root: Path) -> bool:
    """The device reports a WWN, and it is not the hinted disk's."""
    if not hint.disk_uuid:
        return False
    try:
        wwid = _under(root, f"/sys/block/{device.name}/device/wwid").read_text().strip().lower()
    except OSError:
        return False  # no WWN shown (disk.EnableUUID is off): the unit is all there is to go by
    return wwid.startswith("naa.") and wwid != f"naa.{wwn(hint.disk_uuid)}"


def _scsi_ready(hint: volume_pb2.DeviceHint, root: Path) -> str | None:
    by_id = _by_id(hint)
    if by_id and _under(root, by_id).exists():
        return os.path.realpath(_under(root, by_id))
    for candidate in _by_path(hint, root):
        link = _under(root, candidate)
        if link.exists():
            device = Path(os.path.realpath(link))
            if not _other_disk(device, hint, root):
                return str(device)
    return None


async def wait_for_device(hint: volume_pb2.DeviceHint, timeout_s: float, root: Path = ROOT) -> str:
    """Return the device path once it is usable; DeviceError naming what was awaited on timeout."""
    if hint.kind == "loop":
        check = _loop_ready
    elif hint.kind == "scsi":
        check = _scsi_ready
    else:
        raise DeviceError(f"broker sent an unknown device kind {hint.kind!r}")
    deadline = time.monotonic() + timeout_s
    while True:
        device = check(hint, root)
        if device:
            return device
        if time.monotonic() >= deadline:
            what = hint.path if hint.kind == "loop" else " or ".join(_scsi_candidates(hint, root)) or "the disk"
            raise DeviceError(f"Device not found: {what} did not appear within {timeout_s:g}s")
        await asyncio.sleep(POLL_S)
