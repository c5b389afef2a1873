"""First Class Disks (VStorageObjectManager): a volume's point-in-time snapshot on vSphere.

A vdvs volume is a plain VMDK; to snapshot it, it is registered as a First Class Disk (once: later
snapshots find it registered), snapshotted (``VStorageObjectCreateSnapshot_Task``: atomic, also
while a VM writes to it, which is crash-consistent as vSphere CSI's snapshots are), and the
snapshot is made into the snapshot volume's own disk at its vdvs path
(``CreateDiskFromSnapshot_Task``), after which the FCD snapshot is deleted so the volume carries
no delta chain. The snapshot volume is then a disk like any other (attach, clone, remove).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from vdvs.broker.backends.base import BackendError
from vdvs.broker.backends.vsphere.datastore import Datastores, split_ds_path
from vdvs.broker.backends.vsphere.faults import translated, wait_task
from vdvs.broker.backends.vsphere.pyvmomi import speaking_at_least, vim
from vdvs.broker.backends.vsphere.session import Session

log = logging.getLogger("vdvs.broker.vsphere")
SNAPSHOT_API = "vim.version.version12"  # vSphere 6.7: VStorageObjectCreateSnapshot_Task, CreateDiskFromSnapshot_Task


class FirstClassDisks:
    def __init__(self, session: Session, stores: Datastores) -> None:
        self._session = session
        self._stores = stores

    @property
    def _manager(self) -> Any:
        return speaking_at_least(self._session.content.vStorageObjectManager, SNAPSHOT_API)

    def _url(self, path: str) -> str:
        """RegisterDisk's address of a VMDK: the datastore's /folder URL."""
        datastore, relative = split_ds_path(path)
        settings = self._session.settings
        return (
            f"https://{settings.address}/folder/{quote(relative, safe='/')}"
            f"?dcPath={quote(self._session.datacenter_path, safe='')}&dsName={quote(datastore, safe='')}"
        )

    def find(self, path: str) -> Any | None:
        """The id of the First Class Disk backed by ``path``, if it is one."""
        datastore, _ = split_ds_path(path)
        ds = self._stores.get(datastore)
        for fcd_id in self._manager.ListVStorageObject(datastore=ds) or []:
            try:
                found = self._manager.RetrieveVStorageObject(id=fcd_id, datastore=ds)
            except vim.fault.NotFound:
                continue  # its VMDK was deleted (a removed volume): a stale catalog entry, not ours to mend
            if getattr(found.config.backing, "filePath", None) == path:
                return fcd_id
        return None

    def register(self, path: str, name: str) -> Any:
        """The First Class Disk id of the VMDK at ``path``, registering it the first time."""
        what = f"cannot register {path} as a First Class Disk"
        with translated(what):
            found = self.find(path)
            if found is not None:
                return found
            log.info("registering %s as a First Class Disk", path)
            return self._manager.RegisterDisk(path=self._url(path), name=name).config.id

    def snapshot_into(self, source: str, target: str, name: str) -> None:
        """Snapshot the disk at ``source`` and make the snapshot the new disk ``target`` (same datastore)."""
        datastore, relative = split_ds_path(target)
        ds = self._stores.get(datastore)
        timeout = self._session.settings.task_timeout_s
        fcd_id = self.register(source, split_ds_path(source)[1])
        what = f"cannot snapshot {source} into {target}"
        with translated(what):
            task = self._manager.VStorageObjectCreateSnapshot_Task(id=fcd_id, datastore=ds, description=name)
            snapshot_id = wait_task(task, timeout, what)
            try:
                task = self._manager.CreateDiskFromSnapshot_Task(
                    id=fcd_id, datastore=ds, snapshotId=snapshot_id, name=name, path=relative
                )
                wait_task(task, timeout, what)
            finally:
                self._drop(fcd_id, ds, snapshot_id, source)

    def _drop(self, fcd_id: Any, ds: Any, snapshot_id: Any, source: str) -> None:
        """The FCD snapshot is only a step: its disk has been made (or failed); a leftover is logged."""
        what = f"cannot delete the First Class Disk snapshot of {source}"
        try:
            with translated(what):
                task = self._manager.DeleteSnapshot_Task(id=fcd_id, datastore=ds, snapshotId=snapshot_id)
                wait_task(task, self._session.settings.task_timeout_s, what)
        except BackendError as exc:
            log.warning("%s: %s", what, exc)
