"""Find the block device an attach produced, from the broker's device hint, within a deadline.

- ``loop`` (local backend): the device node exists and its backing file is the disk.
- ``scsi`` (vSphere): the disk appears as ``/dev/disk/by-id/wwn-0x<disk uuid>`` or, as vDVS
  found it, under ``/dev/disk/by-path`` by PVSCSI controller PCI slot and unit.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from vdvs.proto import volume_pb2

POLL_S = 0.02


class DeviceError(Exception):
    pass


def _loop_ready(hint: volume_pb2.DeviceHint) -> str | None:
    name = os.path.basename(hint.path)
    try:
        backing = Path(f"/sys/block/{name}/loop/backing_file").read_text().rstrip("\n")
    except OSError:
        return None
    if os.path.exists(hint.path) and backing == hint.backing_file:
        return hint.path
    return None


def _scsi_candidates(hint: volume_pb2.DeviceHint) -> list[str]:
    found = []
    if hint.disk_uuid:
        wwn = hint.disk_uuid.replace("-", "").replace(" ", "").lower()
        found.append(f"/dev/disk/by-id/wwn-0x{wwn}")
    by_path = Path("/dev/disk/by-path")
    suffix = f"-scsi-0:0:{hint.unit}:0"
    bridge = Path(f"/sys/bus/pci/devices/0000:00:{hint.controller_pci_bus:02x}.{hint.controller_pci_function}/pci_bus")
    try:
        buses = os.listdir(bridge)
    except OSError:
        buses = []
    for bus in buses:
        found.append(str(by_path / f"pci-{bus}:00.0{suffix}"))
    if 0 < hint.controller_pci_slot < 32:  # a controller right on bus 0
        found.append(str(by_path / f"pci-0000:00:{hint.controller_pci_slot:02x}.0{suffix}"))
    return found


def _scsi_ready(hint: volume_pb2.DeviceHint) -> str | None:
    for candidate in _scsi_candidates(hint):
        if os.path.exists(candidate):
            return os.path.realpath(candidate)
    return None


async def wait_for_device(hint: volume_pb2.DeviceHint, timeout_s: float) -> str:
    """Return the device path once it is usable; DeviceError naming what was awaited on timeout."""
    if hint.kind == "loop":
        check = _loop_ready
    elif hint.kind == "scsi":
        check = _scsi_ready
    else:
        raise DeviceError(f"broker sent an unknown device kind {hint.kind!r}")
    deadline = time.monotonic() + timeout_s
    while True:
        device = check(hint)
        if device:
            return device
        if time.monotonic() >= deadline:
            what = hint.path if hint.kind == "loop" else " or ".join(_scsi_candidates(hint)) or "the disk"
            raise DeviceError(f"Device not found: {what} did not appear within {timeout_s:g}s")
        await asyncio.sleep(POLL_S)
