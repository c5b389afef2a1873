"""A Linux guest's sysfs and devfs as a VMware VM shows its PVSCSI disks, built in a temp root.

What a guest with virtual hardware 7 and up has (``lspci``, ``ls -l /dev/disk/by-path``):

- PCI bridges on bus 0: ``pciBridge0`` at 00:11.0 (a PCI bridge, secondary bus 02, slots 32-63)
  and the PCIe root ports ``pciBridge4``-``7`` at 00:15.x-00:18.x (eight functions each, one
  secondary bus per function: 00:15.0 -> 03, 00:15.1 -> 04, ..., 00:16.0 -> 0b, 00:17.0 -> 13,
  00:18.0 -> 1b). The VM's extraConfig has each bridge's ``pciBridge<n>.pciSlotNumber``.
- A PVSCSI controller (vendor 15ad, device 07c0) at ``scsi<n>.pciSlotNumber``: 160 (00:15.0's
  bus), 224 (00:17.0), 256 (00:18.0), 1184 (00:15.1) for scsi0-3; or a slot on bus 0 itself.
- Each disk: ``/dev/sdX``; ``/sys/block/sdX/device/wwid`` (``naa.<wwn>`` with
  ``disk.EnableUUID=TRUE``, a ``t10.`` vendor string without); the udev links
  ``/dev/disk/by-path/pci-0000:<bus>:<dev>.0-scsi-0:0:<unit>:0`` and, with EnableUUID,
  ``/dev/disk/by-id/wwn-0x<wwn>``, both relative symlinks to ``../../sdX``.
"""

from __future__ import annotations

import os
from pathlib import Path

from vdvs.plugin.devices import wwn

BRIDGE_SLOTS = {"pcibridge0.pcislotnumber": "17", **{f"pcibridge{n}.pcislotnumber": str(17 + n) for n in range(4, 8)}}
T10 = "t10.VMware  Virtual disk                          6000c29"  # what a disk without a WWN reports


def pci(bus: int, device: int, function: int = 0) -> str:
    return f"0000:{bus:02x}:{device:02x}.{function}"


class GuestTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def bridge(self, slot: int, function: int, secondary_bus: int) -> None:
        """A bridge on bus 0 and the secondary bus it opens."""
        base = self.path(f"/sys/bus/pci/devices/{pci(0, slot, function)}")
        (base / "pci_bus" / f"0000:{secondary_bus:02x}").mkdir(parents=True, exist_ok=True)
        (base / "class").write_text("0x060400\n")  # PCI-to-PCI bridge

    def vmware_bridges(self) -> None:
        """Every bridge a VMware VM has: pciBridge0 (bus 02) and the root ports' 32 functions."""
        self.bridge(0x11, 0, 0x02)
        bus = 0x03
        for slot in range(0x15, 0x19):
            for function in range(8):
                self.bridge(slot, function, bus)
                bus += 1

    def controller(self, address: str) -> None:
        base = self.path(f"/sys/bus/pci/devices/{address}")
        base.mkdir(parents=True, exist_ok=True)
        (base / "vendor").write_text("0x15ad\n")
        (base / "device").write_text("0x07c0\n")  # PVSCSI

    def disk(self, name: str, controller: str, unit: int, disk_uuid: str = "", enable_uuid: bool = True) -> Path:
        """Disk ``/dev/<name>`` at ``unit`` of the controller at PCI ``controller``, as udev names it."""
        self.controller(controller)
        node = self.path(f"/dev/{name}")
        node.parent.mkdir(parents=True, exist_ok=True)
        node.write_bytes(b"")  # stands in for the block node: only its name and links matter
        sysdir = self.path(f"/sys/block/{name}/device")
        sysdir.mkdir(parents=True, exist_ok=True)
        with_wwn = bool(disk_uuid) and enable_uuid
        (sysdir / "wwid").write_text((f"naa.{wwn(disk_uuid)}" if with_wwn else T10) + "\n")
        self._link(f"/dev/disk/by-path/pci-{controller}-scsi-0:0:{unit}:0", name)
        if with_wwn:
            self._link(f"/dev/disk/by-id/wwn-0x{wwn(disk_uuid)}", name)
        return node

    def _link(self, absolute: str, name: str) -> None:
        link = self.path(absolute)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(f"../../{name}")

    def remove(self, name: str) -> None:
        """Hot-remove: the node, its sysfs entry and every link to it go."""
        for folder in ("/dev/disk/by-path", "/dev/disk/by-id"):
            directory = self.path(folder)
            for link in directory.iterdir() if directory.exists() else []:
                if os.readlink(link) == f"../../{name}":
                    link.unlink()
        self.path(f"/dev/{name}").unlink()
        (self.path(f"/sys/block/{name}/device") / "wwid").unlink()

    def loop(self, number: int, backing_file: str) -> Path:
        node = self.path(f"/dev/loop{number}")
        node.parent.mkdir(parents=True, exist_ok=True)
        node.write_bytes(b"")
        loop = self.path(f"/sys/block/loop{number}/loop")
        loop.mkdir(parents=True, exist_ok=True)
        (loop / "backing_file").write_text(backing_file + "\n")
        return node
