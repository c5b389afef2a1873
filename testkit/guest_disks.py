"""A guest-disk emulator: what a Docker VM's SCSI layer and udev would do when vCenter hot-adds a disk.

The one thing of a Docker VM that cannot run on this machine is the guest kernel seeing a virtual
disk appear on its PVSCSI controller. This test-support piece plays that part, and only that part
(it is not product code). It follows the simulator's inventory: when vcsim adds a disk to VM X
(``ReconfigVM_Task`` from the broker), the emulator

1. sizes the disk's ``-flat.vmdk`` in the datastore directory to the size its sidecar records
   (vcsim makes empty files; the broker's sidecar holds the size the disk was made with),
2. attaches it with ``losetup`` (the guest's block device),
3. makes the link udev would make, inside node X's ``/dev/disk`` (a host directory bind-mounted on
   ``/dev/disk`` in that node's mount namespace): ``by-path/pci-0000:00:<slot>.0-scsi-0:0:<unit>:0``,
   and ``by-id/wwn-0x<uuid>`` when the disk's backing has a uuid (vcsim leaves it unset),

and, when the disk leaves the VM's configuration, removes the links and detaches the loop device.

The PCI slot is what the broker reads too: ``scsi<bus>.pciSlotNumber`` in the VM's extraConfig
(vcsim assigns none, so ``prepare_vm`` gives each fleet VM a PVSCSI controller on PCI bus 0 and
records its slot there, as ESX records it in the .vmx). Data written through node X's loop device
lands in the datastore's file, so the next node the disk is attached to reads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from testkit.vsphere_sim import Sim
from vdvs.tenancy import sidecar

log = logging.getLogger("testkit.guest_disks")
POLL_S = 0.1
LOSETUP_TIMEOUT_S = 30.0
PVSCSI_BUS = 1  # vcsim's VMs have an LSI Logic controller on bus 0 already
PVSCSI_SLOT = 16  # PCI 0000:00:10.0 in the guest
PATHS = ["config.hardware.device", "config.extraConfig"]
DEFAULT_MB = 100  # a disk whose sidecar says no size (not one the broker made)


@dataclass(frozen=True)
class SeenDisk:
    """One disk on one VM, as the guest sees it: which file, where on which controller."""

    vm_uuid: str
    file_name: str  # "[ds] dockvols/<vmgroup>/<name>.vmdk"
    slot: int
    unit: int
    uuid: str


@dataclass
class Exposed:
    loop: str
    links: list[Path]


def wwn(uuid: str) -> str:
    """The WWN the guest's udev derives from a disk uuid (what plugin/devices.py looks for)."""
    return uuid.replace("-", "").replace(" ", "").lower()


def by_path_name(slot: int, unit: int) -> str:
    return f"pci-0000:00:{slot:02x}.0-scsi-0:0:{unit}:0"


def prepare_vm(si: Any, vm_uuid: str) -> None:
    """Give the VM a PVSCSI controller on PCI bus 0 and record its slot in extraConfig, as ESX would."""
    vm = si.content.searchIndex.FindByUuid(None, vm_uuid, True)
    devices = vm.config.hardware.device
    have = [d for d in devices if isinstance(d, vim.vm.device.ParaVirtualSCSIController)]
    changes = []
    if not have:
        controller = vim.vm.device.ParaVirtualSCSIController(key=-44, busNumber=PVSCSI_BUS, sharedBus="noSharing")
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=controller))
    buses = [c.busNumber for c in have] or [PVSCSI_BUS]
    extra = [vim.option.OptionValue(key=f"scsi{bus}.pciSlotNumber", value=str(PVSCSI_SLOT + i))
             for i, bus in enumerate(sorted(buses))]  # fmt: skip
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes, extraConfig=extra)))


class GuestDisks:
    """Follow ``vms`` (BIOS uuid -> that node's host directory mounted on its ``/dev/disk``) in vcsim.

    A thread polls the VMs' devices every ``POLL_S``; ``close()`` stops it and undoes every device.
    """

    def __init__(self, sim: Sim, vms: dict[str, Path]) -> None:
        self.sim = sim
        self.vms = vms
        self._si = sim.connect()
        content = self._si.content
        self._vm_refs = {u: content.searchIndex.FindByUuid(None, u, True) for u in vms}
        dc = content.rootFolder.childEntity[0]
        self._datastores = {ds.name: Path(ds.summary.url) for ds in dc.datastore}
        self._exposed: dict[SeenDisk, Exposed] = {}
        self._capacity_kb: dict[SeenDisk, int] = {}  # as the VM's device says: a bigger one is an extend
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="guest-disks", daemon=True)
        self.errors: list[str] = []  # what failed, for a test to show

    def start(self) -> None:
        for directory in self.vms.values():
            for sub in ("by-path", "by-id"):
                (directory / sub).mkdir(parents=True, exist_ok=True)
        self.sync()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        with self._lock:
            for disk in list(self._exposed):
                self._remove(disk)
        with contextlib.suppress(Exception):
            self._si.content.sessionManager.Logout()

    def exposed(self, vm_uuid: str) -> dict[str, str]:
        """{disk file name: loop device} exposed to that VM now."""
        with self._lock:
            return {d.file_name: e.loop for d, e in self._exposed.items() if d.vm_uuid == vm_uuid}

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.sync()
            except Exception as exc:  # a poll that failed is retried; the test sees the error if it persists
                self.errors.append(f"{type(exc).__name__}: {exc}")
                log.warning("guest-disk poll failed: %s", exc)

    def sync(self) -> None:
        """One pass: remove what left the VMs first (a disk moving between VMs), then add what arrived."""
        now: set[SeenDisk] = set()
        capacities: dict[SeenDisk, int] = {}
        for vm_uuid, props in self._read().items():
            now |= self._disks_of(vm_uuid, props, capacities)
        with self._lock:
            for disk in [d for d in self._exposed if d not in now]:
                self._remove(disk)
            for disk in sorted(now - set(self._exposed), key=lambda d: (d.vm_uuid, d.unit)):
                self._add(disk)
            for disk, kb in capacities.items():
                if disk in self._exposed and kb > self._capacity_kb.setdefault(disk, kb):
                    self._grow(disk, kb)

    def _read(self) -> dict[str, dict[str, Any]]:
        """Devices and extraConfig of every followed VM, in one property collector call."""
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=vm) for vm in self._vm_refs.values()],
            propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=PATHS)],
        )
        by_moid = {vm._moId: uuid for uuid, vm in self._vm_refs.items()}
        found = {}
        for item in self._si.content.propertyCollector.RetrieveContents([spec]):
            found[by_moid[item.obj._moId]] = {p.name: p.val for p in item.propSet}
        return found

    def _disks_of(self, vm_uuid: str, props: dict[str, Any], capacities: dict[SeenDisk, int]) -> set[SeenDisk]:
        extra = {o.key.lower(): str(o.value) for o in props.get("config.extraConfig") or []}
        devices = list(props.get("config.hardware.device") or [])
        slots = {}
        for device in devices:
            if isinstance(device, vim.vm.device.ParaVirtualSCSIController):
                value = extra.get(f"scsi{device.busNumber}.pcislotnumber", "")
                if value.isdigit() and 0 < int(value) < 32:  # on PCI bus 0: no bridge to emulate
                    slots[device.key] = int(value)
        found = set()
        for device in devices:
            if not isinstance(device, vim.vm.device.VirtualDisk) or device.controllerKey not in slots:
                continue
            name = getattr(device.backing, "fileName", "") or ""
            if "dockvols/" in name:
                uuid = getattr(device.backing, "uuid", None) or ""
                seen = SeenDisk(vm_uuid, name, slots[device.controllerKey], int(device.unitNumber), uuid)
                found.add(seen)
                capacities[seen] = int(device.capacityInKB or 0)
        return found

    def _flat_file(self, file_name: str) -> tuple[Path, Path]:
        """``[ds] a/b.vmdk`` -> (the -flat.vmdk, the .vmfd sidecar) in the datastore's directory."""
        datastore, _, relative = file_name[1:].partition("]")
        base = self._datastores[datastore] / relative.strip()
        stem = base.with_suffix("")
        return stem.with_name(stem.name + "-flat.vmdk"), stem.with_suffix(".vmfd")

    def _add(self, disk: SeenDisk) -> None:
        flat, meta_file = self._flat_file(disk.file_name)
        meta = sidecar.decode(meta_file.read_bytes()) if meta_file.exists() else None
        size = (sidecar.size_mb(meta) or DEFAULT_MB) * 1024 * 1024
        if flat.stat().st_size < size:
            os.truncate(flat, size)  # sparse: the disk's capacity, as a thin disk has it
        done = subprocess.run(["losetup", "--find", "--show", str(flat)], capture_output=True, text=True,
                              timeout=LOSETUP_TIMEOUT_S, check=False)  # fmt: skip
        if done.returncode != 0:
            self.errors.append(f"losetup {flat}: {done.stderr.strip()}")
            return
        loop = done.stdout.strip()
        root = self.vms[disk.vm_uuid]
        links = [root / "by-path" / by_path_name(disk.slot, disk.unit)]
        if disk.uuid:
            links.append(root / "by-id" / f"wwn-0x{wwn(disk.uuid)}")
        for link in links:
            link.unlink(missing_ok=True)
            link.symlink_to(loop)
        self._exposed[disk] = Exposed(loop, links)
        log.info("guest-disks: %s on VM %s unit %d is %s", disk.file_name, disk.vm_uuid, disk.unit, loop)

    def _grow(self, disk: SeenDisk, capacity_kb: int) -> None:
        """vCenter grew the attached disk (ReconfigVM): the file grows and the guest's device with it
        (what a guest's SCSI rescan shows; here the loop device re-reads its file's size)."""
        flat, _ = self._flat_file(disk.file_name)
        if flat.stat().st_size < capacity_kb * 1024:
            os.truncate(flat, capacity_kb * 1024)
        loop = self._exposed[disk].loop
        done = subprocess.run(["losetup", "-c", loop], capture_output=True, text=True, timeout=LOSETUP_TIMEOUT_S,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            self.errors.append(f"losetup -c {loop}: {done.stderr.strip()}")
            return
        self._capacity_kb[disk] = capacity_kb
        log.info("guest-disks: %s on VM %s grew to %d KB", disk.file_name, disk.vm_uuid, capacity_kb)

    def _remove(self, disk: SeenDisk) -> None:
        self._capacity_kb.pop(disk, None)
        exposed = self._exposed.pop(disk)
        for link in exposed.links:
            link.unlink(missing_ok=True)
        # a device still mounted in a node is detached once its last user lets go (autoclear)
        subprocess.run(["losetup", "-d", exposed.loop], capture_output=True, timeout=LOSETUP_TIMEOUT_S, check=False)
        log.info("guest-disks: %s left VM %s (%s detached)", disk.file_name, disk.vm_uuid, exposed.loop)
