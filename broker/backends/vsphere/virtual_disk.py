"""Virtual disks through VirtualDiskManager: create, copy (clone), delete.

Folders are made only when vSphere says the parent is missing, so the
common case (the vmgroup's folder exists) costs one call, not two.
"""

from __future__ import annotations

import logging
import posixpath

from vdvs.broker.backends.base import BackendError, DiskExistsError, DiskNotFoundError
from vdvs.broker.backends.vsphere.datastore import split_ds_path
from vdvs.broker.backends.vsphere.datastore_files import DatastoreFiles
from vdvs.broker.backends.vsphere.faults import delete_task, translated, wait_task
from vdvs.broker.backends.vsphere.pyvmomi import vim, vmodl
from vdvs.broker.backends.vsphere.session import Session

log = logging.getLogger("vdvs.broker.vsphere")

# vDVS diskformat option -> VirtualDiskManager diskType
DISK_TYPES = {"thin": "thin", "zeroedthick": "preallocated", "eagerzeroedthick": "eagerZeroedThick"}
SPS_EXTENSION = "com.vmware.vim.sps"  # the storage policy service, which reads a profile's raw data


def disk_type(diskformat: str) -> str:
    try:
        return DISK_TYPES[diskformat]
    except KeyError:
        raise BackendError(f"unknown diskformat {diskformat!r} (known: {sorted(DISK_TYPES)})") from None


def profile_spec(content: str) -> object:
    """A vSAN policy's text as vSphere takes it in a disk spec: a defined profile whose raw data is the
    policy, for the storage policy service (SPS) to apply (what vDVS's vsan_policy did with the text)."""
    return vim.vm.DefinedProfileSpec(
        profileId="", profileData=vim.vm.ProfileRawData(extensionKey=SPS_EXTENSION, objectData=content)
    )


class VirtualDisks:
    def __init__(self, session: Session, files: DatastoreFiles) -> None:
        self._session = session
        self._files = files

    def _spec(self, diskformat: str, capacity_kb: int | None, profile: str | None = None) -> object:
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType=disk_type(diskformat), adapterType=self._session.settings.adapter_type
        )
        if capacity_kb is not None:
            spec.capacityKb = capacity_kb
        if profile is not None:
            spec.profile = [profile_spec(profile)]
        return spec

    def _make_parent(self, path: str) -> None:
        datastore, relative = split_ds_path(path)
        self._files.make_folder(datastore, posixpath.dirname(relative))

    def create(self, path: str, capacity_kb: int, diskformat: str, profile: str | None = None) -> None:
        """Create the disk (with the storage policy ``profile``, if given); DiskExistsError if the name is taken."""
        what = f"cannot create {path}"
        spec = self._spec(diskformat, capacity_kb, profile)
        timeout = self._session.settings.task_timeout_s
        with translated(what):
            for attempt in (1, 2):
                task = self._session.content.virtualDiskManager.CreateVirtualDisk_Task(
                    name=path, datacenter=self._session.datacenter, spec=spec
                )
                try:
                    wait_task(task, timeout, what)
                    return
                except vim.fault.FileAlreadyExists:
                    raise DiskExistsError(f"File {path} already exists") from None
                except (vim.fault.FileNotFound, vim.fault.CannotCreateFile):
                    if attempt == 2:
                        raise
                    self._make_parent(path)  # first volume of this vmgroup on this datastore

    def copy(self, source: str, target: str, diskformat: str, profile: str | None = None) -> None:
        """Clone ``source`` into ``target`` in ``diskformat`` (with the storage policy ``profile``, if given);
        DiskNotFoundError / DiskExistsError. A server that takes no destination spec cannot take the policy:
        the clone is then refused rather than made without it."""
        what = f"cannot clone {source} into {target}"
        self._make_parent(target)
        manager = self._session.content.virtualDiskManager
        dc = self._session.datacenter
        timeout = self._session.settings.task_timeout_s
        with translated(what):
            try:
                try:
                    task = manager.CopyVirtualDisk_Task(
                        sourceName=source,
                        sourceDatacenter=dc,
                        destName=target,
                        destDatacenter=dc,
                        destSpec=self._spec(diskformat, None, profile),
                    )
                    wait_task(task, timeout, what)
                except vmodl.fault.NotImplemented:
                    if profile is not None:
                        raise BackendError(
                            f"{what}: the server takes no disk spec for copies, so not the storage policy"
                        ) from None
                    # Some servers (vcsim in vCenter mode) take no destSpec: the copy keeps the source's format.
                    log.warning("clone %s: the server takes no disk format for copies; it keeps its source's", target)
                    task = manager.CopyVirtualDisk_Task(
                        sourceName=source, sourceDatacenter=dc, destName=target, destDatacenter=dc
                    )
                    wait_task(task, timeout, what)
            except vim.fault.FileAlreadyExists:
                raise DiskExistsError(f"File {target} already exists") from None
            except vim.fault.FileNotFound:
                raise DiskNotFoundError(f"{source} does not exist") from None

    def delete(self, path: str) -> bool:
        """Delete the disk and its extents; False if it was not there."""
        manager = self._session.content.virtualDiskManager
        return delete_task(
            lambda: manager.DeleteVirtualDisk_Task(name=path, datacenter=self._session.datacenter),
            self._session.settings.task_timeout_s,
            f"cannot delete {path}",
        )

    def extend(self, path: str, capacity_kb: int) -> None:
        """Grow a detached disk with ExtendVirtualDisk_Task (thin: no space is written)."""
        what = f"cannot extend {path}"
        with translated(what):
            try:
                task = self._session.content.virtualDiskManager.ExtendVirtualDisk_Task(
                    name=path, datacenter=self._session.datacenter, newCapacityKb=capacity_kb, eagerZero=False
                )
                wait_task(task, self._session.settings.task_timeout_s, what)
            except vim.fault.FileNotFound:
                raise DiskNotFoundError(f"{path} does not exist") from None

    def move(self, source: str, target: str) -> None:
        """Move ``source`` to ``target`` (another datastore): MoveVirtualDisk, or where the server has
        none, a copy and then the source's delete. DiskNotFoundError / DiskExistsError."""
        what = f"cannot move {source} to {target}"
        self._make_parent(target)
        manager = self._session.content.virtualDiskManager
        dc = self._session.datacenter
        timeout = self._session.settings.task_timeout_s
        with translated(what):
            try:
                try:
                    task = manager.MoveVirtualDisk_Task(
                        sourceName=source, sourceDatacenter=dc, destName=target, destDatacenter=dc, force=False
                    )
                    wait_task(task, timeout, what)
                except vmodl.fault.NotImplemented:
                    log.warning("move %s: the server cannot move disks; copying, then deleting the source", source)
                    task = manager.CopyVirtualDisk_Task(
                        sourceName=source, sourceDatacenter=dc, destName=target, destDatacenter=dc
                    )
                    wait_task(task, timeout, what)
                    self.delete(source)
            except vim.fault.FileAlreadyExists:
                raise DiskExistsError(f"File {target} already exists") from None
            except vim.fault.FileNotFound:
                raise DiskNotFoundError(f"{source} does not exist") from None
