"""The vSphere backend: volumes as VMDKs under ``[ds] dockvols/<vmgroup>/``, attached with ReconfigVM.

The broker holds one session (``Session``) for all its worker threads.
Reconfigures of one VM are serialized by a per-VM lock (vSphere would
otherwise hand two attaches the same free unit); different VMs proceed in
parallel. Attach exclusivity is decided by the broker from its config store;
this backend adds what only vSphere knows: when a disk is locked by a VM the
store has never heard of, the holder is found by its device list and either
named (running) or relieved of the disk (powered off).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from vdvs.broker import faults
from vdvs.broker.backends.base import (
    POWERED_OFF,
    BackendError,
    DatastoreInfo,
    DatastoreSpace,
    DiskLockedError,
    DiskNotFoundError,
    DiskRef,
    DiskStat,
    GuestSettings,
    VmInfo,
)
from vdvs.broker.backends.vsphere import disk_copies
from vdvs.broker.backends.vsphere.datastore import Datastores, ds_path
from vdvs.broker.backends.vsphere.datastore_files import DatastoreFiles
from vdvs.broker.backends.vsphere.faults import TRANSPORT_ERRORS, describe, is_lock_fault, translated
from vdvs.broker.backends.vsphere.pyvmomi import vim, vmodl
from vdvs.broker.backends.vsphere.session import Session
from vdvs.broker.backends.vsphere.settings import VsphereSettings
from vdvs.broker.backends.vsphere.virtual_disk import VirtualDisks, profile_spec
from vdvs.broker.backends.vsphere.virtual_machine import VirtualMachines, VmDevices, add_disk_changes
from vdvs.broker.backends.vsphere.virtual_machine_config import ENABLE_UUID, VmConfig, enable_uuid_missing
from vdvs.broker.backends.vsphere.watcher import PowerWatcher
from vdvs.tenancy import sidecar
from vdvs.tenancy.options import ATTACH_AS_TYPES
from vdvs.tenancy.snapshots import CopyKind

log = logging.getLogger("vdvs.broker.vsphere")
MB = 1024 * 1024
DISK_MODES = set(ATTACH_AS_TYPES)  # attach-as values are vSphere disk modes


class VsphereBackend:
    scope = "global"
    applies_policies = True  # as a storage profile in the disk spec, on vSAN datastores (tenancy.policies)

    def __init__(self, settings: VsphereSettings, workers: int = 8) -> None:
        self.settings = settings
        self.session = Session(settings, pool_size=workers + 2)
        self.files = DatastoreFiles(self.session, pool_size=workers + 2)
        self.stores = Datastores(self.session)
        self.disks = VirtualDisks(self.session, self.files)
        self.vms = VirtualMachines(self.session)
        self.vm_config = VmConfig(self.session)
        self._warned_enable_uuid: set[str] = set()  # VMs already warned about (once per VM per broker run)
        self._vm_locks: dict[str, threading.Lock] = {}
        self._vm_locks_guard = threading.Lock()
        self._watcher: PowerWatcher | None = None
        self._on_power_off: Callable[[str], None] | None = None
        self._on_vm_change: Callable[[str | None], None] | None = None

    def connect(self) -> None:
        """Log in now (the broker does this at start, so a wrong setting fails at once)."""
        self.session.connect()

    # ------------------------------------------------------------------ paths
    @staticmethod
    def vmdk_path(disk: DiskRef) -> str:
        return ds_path(disk.datastore, disk.vmdk)

    def display_path(self, disk: DiskRef) -> str:
        return self.vmdk_path(disk)

    # ------------------------------------------------------------------ inventory
    def datastores(self) -> list[DatastoreInfo]:
        return self.stores.infos()

    def datastore_space(self, datastore: str) -> DatastoreSpace:
        return self.stores.space(datastore)

    def find_vm(self, bios_uuid: str) -> VmInfo | None:
        vm = self.vms.find(bios_uuid)
        return self.vms.info(vm, bios_uuid) if vm is not None else None

    def guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        vm = self.vms.find(bios_uuid)
        return self.vm_config.settings(vm) if vm is not None else None

    def fix_guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        with self._vm_lock(bios_uuid):  # one reconfigure of a VM at a time, attaches included
            vm = self.vms.find(bios_uuid)
            return self.vm_config.fix(vm) if vm is not None else None

    def vms_in_folder(self, folder: str) -> list[VmInfo]:
        """Every VM of an inventory folder and its subfolders (`vdvs vm enroll --folder`)."""
        return self.vms.in_folder(folder)

    def write_guestinfo(self, bios_uuid: str, key: str, value: str) -> None:
        """Set ``guestinfo.<key>`` of a VM (a joining VM's nonce); the VM's reconfigures are serialized."""
        with self._vm_lock(bios_uuid):
            self.vms.set_guestinfo(self._vm(bios_uuid), key, value)

    # ------------------------------------------------------------------ disks
    def create_disk(
        self,
        disk: DiskRef,
        size_mb: int,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat:
        """Create the VMDK and its sidecar. (vDVS also linked ``dockvols/<vmgroup name>`` to the
        folder; the vSphere API makes no symlinks, and the sidecar records the vmgroup's name.)"""
        self.stores.get(disk.datastore)  # an unknown datastore is named as such, not as FileNotFound
        path = self.vmdk_path(disk)
        faults.point("vsphere.create.before_task")
        self.disks.create(path, size_mb * 1024, diskformat, profile)
        faults.point("vsphere.create.after_task")
        self._first_meta(disk, meta, path)
        faults.point("vsphere.create.after_meta")
        # A new thin disk holds next to nothing; thick ones are allocated in full at creation.
        return DiskStat(size_mb * MB, 0 if diskformat == "thin" else size_mb * MB)

    def clone_disk(
        self,
        source: DiskRef,
        target: DiskRef,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat:
        self.stores.get(target.datastore)
        path = self.vmdk_path(target)
        faults.point("vsphere.clone.before_task")
        self.disks.copy(self.vmdk_path(source), path, diskformat, profile)
        faults.point("vsphere.clone.after_task")
        self._first_meta(target, meta, path)
        faults.point("vsphere.clone.after_meta")
        return self.stat_disk(target)

    def _first_meta(self, disk: DiskRef, meta: dict[str, Any], path: str) -> None:
        """Write a new disk's sidecar; without one the disk is deleted again (as vDVS did)."""
        try:
            self.write_meta(disk, meta)
        except BackendError as exc:
            with contextlib.suppress(BackendError):
                self.disks.delete(path)
            raise BackendError(f"Failed to create metadata kv store for {path}: {exc}") from None

    def remove_disk(self, disk: DiskRef) -> None:
        """Sidecar first, then the disk; if the disk cannot go, the sidecar is put back."""
        saved = self.files.read(disk.datastore, disk.sidecar)
        self.files.delete(disk.datastore, disk.sidecar)
        faults.point("vsphere.remove.after_sidecar")
        try:
            self.disks.delete(self.vmdk_path(disk))
        except BackendError:
            if saved is not None:
                with contextlib.suppress(BackendError):
                    self.files.write(disk.datastore, disk.sidecar, saved)
            raise
        faults.point("vsphere.remove.after_task")

    def disk_exists(self, disk: DiskRef) -> bool:
        return self.stores.find_disk(disk) is not None

    def stat_disk(self, disk: DiskRef) -> DiskStat:
        found = self.stores.find_disk(disk)
        if found is None:
            raise DiskNotFoundError(f"{self.vmdk_path(disk)} does not exist")
        if found.capacity_kb is not None:
            return DiskStat(found.capacity_kb * 1024, found.file_size)
        # the server did not say (vcsim's disks are empty files): the size we made it with
        return DiskStat(sidecar.size_mb(self.read_meta(disk)) * MB, found.file_size)

    def read_meta(self, disk: DiskRef) -> dict[str, Any] | None:
        data = self.files.read(disk.datastore, disk.sidecar)
        if data is None:
            return None
        meta = sidecar.decode(data)
        if meta is None:
            log.warning("sidecar %s is not JSON", ds_path(disk.datastore, disk.sidecar))
        return meta

    def write_meta(self, disk: DiskRef, meta: dict[str, Any]) -> None:
        self.files.write(disk.datastore, disk.sidecar, sidecar.encode(meta))

    def list_disks(self) -> list[DiskRef]:
        disks: list[DiskRef] = []
        for name in self.stores.names():
            disks.extend(self.stores.volume_disks(name))
        return sorted(disks, key=lambda d: (d.datastore, d.vmgroup_id, d.name))

    # ------------------------------------------------------------------ attach
    @contextlib.contextmanager
    def _vm_lock(self, vm_uuid: str) -> Iterator[None]:
        """Serialize reconfigures of one VM (bounded: a stuck holder cannot block forever)."""
        with self._vm_locks_guard:
            lock = self._vm_locks.setdefault(vm_uuid.lower(), threading.Lock())
        timeout = self.settings.task_timeout_s * 2
        if not lock.acquire(timeout=timeout):
            raise BackendError(f"VM {vm_uuid} is busy with another reconfigure (waited {timeout:g}s)")
        try:
            yield
        finally:
            lock.release()

    def _vm(self, vm_uuid: str) -> Any:
        vm = self.vms.find(vm_uuid)
        if vm is None:
            raise BackendError(f"Failed to find VM object for bios uuid {vm_uuid}")
        return vm

    def attach(self, vm_uuid: str, disk: DiskRef, attach_as: str) -> dict[str, Any]:
        if attach_as not in DISK_MODES:
            raise BackendError(f"unknown attach-as {attach_as!r} (known: {sorted(DISK_MODES)})")
        path = self.vmdk_path(disk)
        with self._vm_lock(vm_uuid):
            vm = self._vm(vm_uuid)
            current = self.vms.devices(vm)
            self._warn_enable_uuid(vm_uuid, current)
            held = current.disk(path)
            if held is not None:
                return current.hint(held)  # already ours: same unit as before
            faults.point("vsphere.attach.before_reconfig")
            try:
                self._add(current, path, attach_as, retry_lock=True)
            except vim.fault.FileNotFound:
                raise DiskNotFoundError(f"{path} does not exist") from None
            faults.point("vsphere.attach.after_reconfig")
            after = self.vms.devices(vm)
            added = after.disk(path)
            if added is None:
                raise BackendError(f"attach {path}: vSphere reported success but the VM has no such disk")
            log.info("attached %s to VM %s (unit %s)", path, after.name, added.unitNumber)
            return after.hint(added)

    def _warn_enable_uuid(self, vm_uuid: str, current: VmDevices) -> None:
        """Once per VM: without disk.EnableUUID its guest finds disks by PCI path and unit only."""
        key = vm_uuid.lower()
        if key in self._warned_enable_uuid or not enable_uuid_missing(current.extra):
            return
        self._warned_enable_uuid.add(key)
        log.warning(
            "VM %s has no %s=TRUE: its guest finds volumes by PCI path and unit, without the disk's WWN "
            "(power it off and run: vdvs vm check --vm %s --fix)",
            current.name,
            ENABLE_UUID,
            current.name,
        )

    def _add(self, current: VmDevices, path: str, attach_as: str, retry_lock: bool) -> None:
        """Reconfigure ``current.vm`` to add the disk; on a lock fault, deal with the holder and retry once."""
        what = f"Failed to add disk {path}"
        vm = current.vm
        placement = current.placement()
        try:
            self.vms.reconfigure(vm, add_disk_changes(placement, path, attach_as), what)
        except vim.fault.FileNotFound:
            raise
        except TRANSPORT_ERRORS as exc:
            raise BackendError(f"{what}: {describe(exc)}") from None
        except vmodl.MethodFault as exc:
            if not is_lock_fault(exc):
                raise BackendError(f"{what}: {describe(exc)}") from None
            self._release_from_holders(vm, path, exc)
            if not retry_lock:
                raise BackendError(f"{what}: {describe(exc)}") from None
            self._add(self.vms.devices(vm), path, attach_as, retry_lock=False)

    def _release_from_holders(self, vm: Any, path: str, fault: Exception) -> None:
        """The disk is locked: name the running VM that holds it, or take it from a powered-off one."""
        holders = self.vms.holders(path, exclude=vm)
        if not holders:
            raise BackendError(f"Failed to add disk {path}: {describe(fault)} (no VM of this datacenter has it)")
        running = [h for h in holders if h.power_state != POWERED_OFF]
        if running:
            holder = running[0]
            raise DiskLockedError(
                f"disk {path} is in use by VM {holder.name} ({holder.power_state}): {describe(fault)}", holder.name
            )
        for holder in holders:
            log.warning("disk %s is held by powered-off VM %s: detaching it from there", path, holder.name)
            with self._vm_lock(holder.uuid or holder.vm._moId):
                self.vms.remove_disk(holder.vm, path, f"Failed to detach {path} from VM {holder.name}")

    def power_off(self, vm_uuid: str) -> bool:
        """Fence a VM: power it off through vCenter. False if it is gone or already off."""
        with self._vm_lock(vm_uuid):
            vm = self.vms.find(vm_uuid)
            info = self.vms.info(vm, vm_uuid) if vm is not None else None
            if info is None or info.power_state == POWERED_OFF:
                return False
            self.vms.power_off(vm, f"Failed to power VM {info.name} off")
            log.warning("powered VM %s (%s) off: fenced by an admin", info.name, vm_uuid)
            return True

    def detach(self, vm_uuid: str, disk: DiskRef) -> None:
        path = self.vmdk_path(disk)
        with self._vm_lock(vm_uuid):
            vm = self.vms.find(vm_uuid)
            if vm is None:
                return  # a VM that is gone holds nothing
            faults.point("vsphere.detach.before_reconfig")
            removed = self.vms.remove_disk(vm, path, f"Failed to detach {path}")
            faults.point("vsphere.detach.after_reconfig")
            if removed:
                log.info("detached %s from VM %s", path, vm_uuid)

    def apply_policy(self, vm_uuid: str, disk: DiskRef, content: str) -> bool:
        """Re-apply a storage policy to a disk through the VM holding it (vSphere changes an existing disk's
        policy only so); False when that VM does not hold it (the policy stays on record)."""
        path = self.vmdk_path(disk)
        with self._vm_lock(vm_uuid):
            vm = self.vms.find(vm_uuid)
            if vm is None:
                return False
            with translated(f"Failed to apply the storage policy to {path}"):
                return self.vms.set_disk_profile(vm, path, profile_spec(content), f"apply policy to {path}")

    def is_attached(self, vm_uuid: str, disk: DiskRef) -> bool:
        vm = self.vms.find(vm_uuid)
        return vm is not None and self.vms.devices(vm).disk(self.vmdk_path(disk)) is not None

    # ------------------------------------------------------------------ lifecycle
    def vmgroup_renamed(self, vmgroup_id: str, old_name: str, new_name: str) -> None:
        """Nothing to do: the vSphere file API cannot make symlinks, so no by-name links exist;
        the sidecars record the vmgroup name as of their last write."""

    def vmgroup_removed(self, vmgroup_id: str, name: str) -> None:
        """Empty vmgroup folders are left in place: the datastore file API deletes folders
        recursively, and a disk this broker does not know must never go with them."""

    def watch_power_off(self, callback: Callable[[str], None]) -> None:
        """Report VMs that power off (BIOS uuid, from the watcher's thread) until ``close()``."""
        self._on_power_off = callback
        self._start_watcher()

    def watch_vm_changes(self, callback: Callable[[str | None], None]) -> None:
        """Report VMs renamed, moved to another folder or re-attributed (None: maybe every VM)."""
        self._on_vm_change = callback
        self._start_watcher()

    def _start_watcher(self) -> None:
        """One watcher thread serves both reports (its callbacks are looked up as events come)."""
        if self._watcher is None:
            self._watcher = PowerWatcher(self.settings, self._powered_off, on_change=self._vm_changed)
            self._watcher.start()

    def _powered_off(self, vm_uuid: str) -> None:
        if self._on_power_off is not None:
            self._on_power_off(vm_uuid)

    def _vm_changed(self, vm_uuid: str | None) -> None:
        if vm_uuid is None:
            self.vms.forget_field_names()  # a definition may have been renamed
        if self._on_vm_change is not None:
            self._on_vm_change(vm_uuid)

    @property
    def power_watch_ready(self) -> bool:
        """True once the watcher has its first view of every VM (power-offs from then on are seen)."""
        return self._watcher is not None and self._watcher.ready.is_set()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.files.close()
        self.session.close()

    def extend_disk(self, disk: DiskRef, size_mb: int, holder: str | None) -> DiskStat:
        """Attached: ReconfigVM on the holder (vSphere refuses ExtendVirtualDisk on a disk a VM has
        open); detached (or the holder gone): ExtendVirtualDisk_Task."""
        path = self.vmdk_path(disk)
        capacity_kb = size_mb * 1024
        faults.point("vsphere.extend.before_task")
        grown = None
        if holder is not None:
            with self._vm_lock(holder):
                vm = self.vms.find(holder)
                if vm is not None:
                    grown = self.vms.grow_disk(vm, path, capacity_kb, f"Failed to extend {path} on its VM")
        if grown is None:
            self.disks.extend(path, capacity_kb)
        faults.point("vsphere.extend.after_task")
        log.info("extended %s to %d MB (%s)", path, size_mb, "attached" if grown is not None else "detached")
        return DiskStat(size_mb * MB, self.stat_disk(disk).allocated_bytes)

    def __repr__(self) -> str:
        return f"VsphereBackend({self.settings.address}, user={self.settings.user})"

    # ------------------------------------------------------------------ move and snapshots (issue 14)
    def move_disk(
        self, source: DiskRef, target: DiskRef, diskformat: str, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """MoveVirtualDisk, the sidecar written on the target, the source's deleted (vsphere/disk_copies.py)."""
        return disk_copies.move_disk(self, source, target, meta)

    def snapshot_kind(self, disk: DiskRef) -> CopyKind:
        return disk_copies.snapshot_kind(self)

    def snapshot_disk(
        self, source: DiskRef, target: DiskRef, kind: CopyKind, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """The FCD snapshot of ``source`` made into the disk ``target`` (vsphere/disk_copies.py)."""
        return disk_copies.snapshot_disk(self, source, target, kind, meta)
