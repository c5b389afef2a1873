"""Disks made from other disks on vSphere (issue 14): a volume moved to another datastore
(MoveVirtualDisk_Task, or copy + delete where the server has none) and a snapshot (a First Class Disk
snapshot through vCenter made into a disk of its own; a copy on a standalone ESX host). Each writes the
new disk's sidecar itself, so a crash leaves either no target or a complete one (broker/move_ops.py,
broker/snapshot_ops.py settle the rest)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError, DiskExistsError, DiskRef, DiskStat
from vdvs.broker.backends.vsphere.first_class_disk import FirstClassDisks
from vdvs.broker.backends.vsphere.pyvmomi import vim
from vdvs.tenancy.snapshots import CopyKind

if TYPE_CHECKING:
    from vdvs.broker.backends.vsphere.backend import VsphereBackend


def move_disk(backend: VsphereBackend, source: DiskRef, target: DiskRef, meta: dict[str, Any]) -> DiskStat:
    """The format is the source's: a move converts nothing. A sidecar that cannot be written sends the
    disk back."""
    backend.stores.get(target.datastore)
    path, source_path = backend.vmdk_path(target), backend.vmdk_path(source)
    if backend.disk_exists(target):
        raise DiskExistsError(f"File {path} already exists")
    faults.point("vsphere.move.before_task")
    backend.disks.move(source_path, path)
    faults.point("vsphere.move.after_task")
    try:
        backend.write_meta(target, meta)
    except BackendError as exc:
        with contextlib.suppress(BackendError):
            backend.disks.move(path, source_path)
        raise BackendError(f"Failed to create metadata kv store for {path}: {exc}") from None
    faults.point("vsphere.move.after_meta")
    with contextlib.suppress(BackendError):  # a leftover source sidecar is an orphan file, not a volume
        backend.files.delete(source.datastore, source.sidecar)
    return backend.stat_disk(target)


def snapshot_kind(backend: VsphereBackend) -> CopyKind:
    """A First Class Disk snapshot through vCenter (atomic, whoever writes to the disk); a standalone ESX
    host has no vCenter VStorageObjectManager: a copy (CopyVirtualDisk), point-in-time only if unused."""
    vcenter = isinstance(backend.session.content.vStorageObjectManager, vim.vslm.vcenter.VStorageObjectManager)
    return CopyKind.NATIVE if vcenter else CopyKind.SPARSE


def snapshot_disk(
    backend: VsphereBackend, source: DiskRef, target: DiskRef, kind: CopyKind, meta: dict[str, Any]
) -> DiskStat:
    path = backend.vmdk_path(target)
    if backend.stores.find_disk(target) is not None:
        raise DiskExistsError(f"File {path} already exists")
    faults.point("vsphere.snapshot.before_task")
    if kind is CopyKind.NATIVE:
        FirstClassDisks(backend.session, backend.stores).snapshot_into(backend.vmdk_path(source), path, target.name)
    else:
        backend.disks.copy(backend.vmdk_path(source), path, "thin")
    faults.point("vsphere.snapshot.after_task")
    backend._first_meta(target, meta, path)
    return backend.stat_disk(target)
