"""The one interface every disk backend implements, and the faults it may raise.

Backend methods are blocking (file I/O, subprocesses, vSphere SOAP calls); the
broker only ever calls them on its bounded worker pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from vdvs.tenancy.capacity import DatastoreSpace
from vdvs.tenancy.names import DiskRef
from vdvs.tenancy.snapshots import CopyKind

# re-exported: the backends' view of a volume's disk (owned by tenancy.names) and of a datastore's room
__all__ = ["DatastoreSpace", "DiskRef"]

POWERED_ON = "poweredOn"
POWERED_OFF = "poweredOff"
SUSPENDED = "suspended"


@dataclass(frozen=True)
class DatastoreInfo:
    name: str
    url: str
    capacity_bytes: int
    free_bytes: int
    kind: str  # "local", "VMFS", "vsan", "NFS", ...


@dataclass(frozen=True)
class DiskStat:
    size_bytes: int
    allocated_bytes: int


@dataclass(frozen=True)
class VmInfo:
    uuid: str  # BIOS uuid
    name: str
    power_state: str  # POWERED_ON / POWERED_OFF / SUSPENDED
    datastore: str  # datastore of the VM's config file (what _VM_DS means)
    # what membership rules match besides the name (vSphere; a backend without them leaves them empty)
    folder: str = ""  # inventory folder path: /DC/vm/web
    attributes: Mapping[str, str] = field(default_factory=dict)  # custom attributes, by name


@dataclass(frozen=True)
class GuestSetting:
    """One VM setting a Docker guest needs (``disk.EnableUUID = TRUE``), as the VM has it."""

    key: str
    want: str
    have: str  # "" when the VM does not set it
    fixed: bool = False  # set to ``want`` by this call

    @property
    def ok(self) -> bool:
        return self.fixed or self.have.strip().upper() == self.want.upper()  # vSphere reads "true" as TRUE


@dataclass(frozen=True)
class GuestSettings:
    """What ``vdvs vm check`` reports of a VM; no settings: the backend has nothing to check."""

    vm_name: str
    power_state: str
    settings: tuple[GuestSetting, ...] = ()


class BackendError(Exception):
    """A backend operation failed; the message says why in words a user can act on."""


class DiskExistsError(BackendError):
    pass


class DiskNotFoundError(BackendError):
    pass


class NoDiskSlotError(BackendError):
    """Every controller slot of the VM is taken."""


class VmPoweredOnError(BackendError):
    """A setting that the guest reads at power-on cannot be changed on a running VM."""

    def __init__(self, vm_name: str, power_state: str, keys: list[str]) -> None:
        super().__init__(f"VM {vm_name} is {power_state}")
        self.vm_name, self.power_state, self.keys = vm_name, power_state, keys


class DiskLockedError(BackendError):
    """The disk is held (attached) by another running VM."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class Backend(Protocol):
    """Disk operations on datastores. Every call may block; all are bounded in time."""

    scope: str  # Docker Capabilities scope: "local" or "global"
    # vSAN storage policies reach its disks (vSphere, on vSAN datastores); else they are recorded only
    applies_policies: bool

    def datastores(self) -> list[DatastoreInfo]: ...

    def find_vm(self, bios_uuid: str) -> VmInfo | None: ...

    def datastore_space(self, datastore: str) -> DatastoreSpace:
        """The datastore's room now: capacity, free space, filesystem, largest file (``tenancy.capacity``
        decides with it whether a new volume fits, before anything is reserved)."""

    def display_path(self, disk: DiskRef) -> str: ...

    def create_disk(
        self,
        disk: DiskRef,
        size_mb: int,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat:
        """``profile``: a vSAN storage policy's text to put on the disk (only when ``applies_policies``)."""

    def clone_disk(
        self,
        source: DiskRef,
        target: DiskRef,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat: ...

    def remove_disk(self, disk: DiskRef) -> None:
        """Delete disk and sidecar; succeeds if already gone."""

    def disk_exists(self, disk: DiskRef) -> bool: ...

    def stat_disk(self, disk: DiskRef) -> DiskStat: ...

    def read_meta(self, disk: DiskRef) -> dict[str, Any] | None: ...

    def write_meta(self, disk: DiskRef, meta: dict[str, Any]) -> None: ...

    def attach(self, vm_uuid: str, disk: DiskRef, attach_as: str) -> dict[str, Any]:
        """Attach to the VM (idempotent); return the device hint for the guest."""

    def detach(self, vm_uuid: str, disk: DiskRef) -> None:
        """Detach from the VM; succeeds if not attached."""

    def is_attached(self, vm_uuid: str, disk: DiskRef) -> bool: ...

    def list_disks(self) -> list[DiskRef]:
        """Every volume disk under ``dockvols/<vmgroup>/`` on every datastore."""

    def vmgroup_renamed(self, vmgroup_id: str, old_name: str, new_name: str) -> None:
        """Keep any by-name pointers to the vmgroup's folders current (vDVS's dockvols/<name> links)."""

    def vmgroup_removed(self, vmgroup_id: str, name: str) -> None:
        """Drop the removed vmgroup's by-name pointers and its now empty folders (never a disk)."""

    def guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        """The VM settings its guest needs to find its disks, as the VM has them; None if the VM is unknown."""

    def fix_guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        """Set what ``guest_settings`` found missing (``fixed`` marks each change); None if the VM is
        unknown; VmPoweredOnError, changing nothing, unless the VM is powered off."""

    def watch_power_off(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(bios_uuid)`` (from a thread of the backend's own) whenever a VM powers off.

        The broker then detaches that VM's volumes, as vDVS's VM listener did,
        so swarm can reschedule at once. Watching stops at ``close()``. A
        backend without power events (local) does nothing.
        """

    def watch_vm_changes(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(bios_uuid)`` (from a thread of the backend's own) whenever a VM's name,
        folder or custom attributes change, and ``callback(None)`` when a change (a folder renamed, an
        attribute defined or renamed) may concern every VM: the broker then forgets what it cached of
        them, so membership rules see the change on the VM's next call. Watching stops at
        ``close()``. A backend whose VMs have no such facts (local) does nothing.
        """

    def close(self) -> None: ...

    def extend_disk(self, disk: DiskRef, size_mb: int, holder: str | None) -> DiskStat:
        """Grow the disk to ``size_mb`` (idempotent: a disk already that big is left alone) and
        return its size after. ``holder``: the VM it is attached to, if any (vSphere grows an attached
        disk through that VM's ReconfigVM; the local backend refreshes its loop devices)."""

    def move_disk(
        self, source: DiskRef, target: DiskRef, diskformat: str, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """Move a detached disk and its sidecar (``meta``, written on the target) to ``target``'s datastore.

        Until the target disk and its sidecar are complete the source stays whole, and the source is
        deleted only after: a target disk with its sidecar, or with no source left, is a complete move
        (``broker.move_ops`` finishes or undoes an interrupted one by that). DiskExistsError when the
        target name is taken; on any other error nothing of the move is left on the target."""

    def snapshot_kind(self, disk: DiskRef) -> CopyKind:
        """How ``snapshot_disk`` would copy ``disk`` now (the broker refuses a copy that would not be
        point-in-time: ``tenancy.snapshots.check_point_in_time``)."""

    def snapshot_disk(
        self, source: DiskRef, target: DiskRef, kind: CopyKind, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """A point-in-time copy of ``source`` as the new disk ``target`` (with its sidecar ``meta``), made
        as ``kind`` says; DiskExistsError if ``target`` exists."""
