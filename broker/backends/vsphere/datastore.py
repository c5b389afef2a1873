"""Datastores: the datacenter's list (capacity, free space, URL), names to objects, and the browser.

The browser answers "does this disk exist, how big is it" and "which volume
disks are under dockvols/" without opening any disk (vDVS opened every disk
with DiskLib for ``get``, locking it briefly each time).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from vdvs.broker.backends.base import BackendError, DatastoreInfo, DatastoreSpace, DiskRef
from vdvs.broker.backends.vsphere.faults import translated, wait_task
from vdvs.broker.backends.vsphere.pyvmomi import vim
from vdvs.broker.backends.vsphere.session import Session
from vdvs.tenancy.names import DOCKVOLS

Browser = vim.host.DatastoreBrowser
_GLOB_CHARS = re.compile(r"[*?\[\]\\]")
# descriptor files only: not the extents, change-tracking files or snapshot deltas beside them
_NOT_A_VOLUME = re.compile(r"(-flat|-delta|-ctk|-digest|-sesparse|-\d{6})\.vmdk$", re.IGNORECASE)


def ds_path(datastore: str, relative: str) -> str:
    """``[datastore] relative/path``, vSphere's datastore path form."""
    return f"[{datastore}] {relative}"


def split_ds_path(path: str) -> tuple[str, str]:
    """``[ds] a/b`` -> ("ds", "a/b"); also accepts vcsim's ``[ds]/a/b``."""
    if not path.startswith("[") or "]" not in path:
        return "", path
    datastore, rest = path[1:].split("]", 1)
    return datastore, rest.lstrip(" /")


@dataclass(frozen=True)
class DiskFile:
    """What the browser knows of one disk: capacity (None if it does not say) and bytes in use."""

    capacity_kb: int | None
    file_size: int


class Datastores:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._by_name: dict[str, Any] = {}

    def infos(self) -> list[DatastoreInfo]:
        """Every accessible datastore of the datacenter (refreshes the name cache)."""
        with translated("cannot list datastores"):
            objs = self._session.retrieve([self._session.datacenter], vim.Datacenter, ["datastore"])
            refs = list(objs[0][1].get("datastore", [])) if objs else []
            rows = self._session.retrieve(refs, vim.Datastore, ["summary"])
        infos, by_name = [], {}
        for obj, props in rows:
            summary = props.get("summary")
            if summary is None or summary.accessible is False:
                continue
            by_name[summary.name] = obj
            infos.append(
                DatastoreInfo(
                    name=summary.name,
                    url=summary.url or f"ds:///{obj._moId}/",
                    capacity_bytes=int(summary.capacity or 0),
                    free_bytes=int(summary.freeSpace or 0),
                    kind=summary.type or "",
                )
            )
        with self._lock:
            self._by_name = by_name
        return sorted(infos, key=lambda d: d.name)

    def space(self, name: str) -> DatastoreSpace:
        """The datastore's room from its ``summary`` (capacity and freeSpace, as vCenter last refreshed
        them). No largest file below vSphere's largest disk, which the size parser already caps."""
        obj = self.get(name)
        with translated(f"cannot read datastore {name}"):
            rows = self._session.retrieve([obj], vim.Datastore, ["summary"])
        summary = rows[0][1].get("summary") if rows else None
        if summary is None:
            raise BackendError(f"cannot read datastore {name}: vSphere returned no summary")
        return DatastoreSpace(
            name=name,
            filesystem=summary.type or "unknown",
            capacity_bytes=int(summary.capacity or 0),
            free_bytes=int(summary.freeSpace or 0),
        )

    def names(self) -> list[str]:
        with self._lock:
            if self._by_name:
                return sorted(self._by_name)
        return [d.name for d in self.infos()]

    def get(self, name: str) -> Any:
        """The Datastore object of ``name``; one refresh on a miss, then BackendError."""
        with self._lock:
            found = self._by_name.get(name)
        if found is None:
            known = [d.name for d in self.infos()]
            with self._lock:
                found = self._by_name.get(name)
            if found is None:
                raise BackendError(f"unknown datastore {name} (known: {', '.join(known) or 'none'})")
        return found

    # ------------------------------------------------------------------ browser
    def _search(self, datastore: str, folder: str, spec: Any, recursive: bool) -> list[Any] | None:
        """Browser results for ``[datastore] folder``; None if the folder does not exist."""
        browser = self.get(datastore).browser
        path = ds_path(datastore, folder)
        what = f"cannot search {path}"
        with translated(what):
            if recursive:
                task = browser.SearchDatastoreSubFolders_Task(datastorePath=path, searchSpec=spec)
            else:
                task = browser.SearchDatastore_Task(datastorePath=path, searchSpec=spec)
            try:
                result = wait_task(task, self._session.settings.task_timeout_s, what)
            except vim.fault.FileNotFound:
                return None
        if result is None:
            return []
        return list(result) if recursive else [result]

    def find_disk(self, disk: DiskRef) -> DiskFile | None:
        """The disk's browser entry, or None if there is no such disk."""
        filename = f"{disk.name}.vmdk"
        # Names may hold glob characters (vDVS allowed all but / and \): then list and compare exactly.
        pattern = "*.vmdk" if _GLOB_CHARS.search(filename) else filename
        spec = Browser.SearchSpec(
            matchPattern=[pattern],
            query=[Browser.VmDiskQuery(details=Browser.VmDiskQuery.Details(capacityKb=True, diskType=True))],
            details=Browser.FileInfo.Details(fileSize=True, fileType=True),
        )
        results = self._search(disk.datastore, disk.folder, spec, recursive=False)
        for result in results or []:
            for info in result.file or []:
                if info.path == filename:
                    capacity = getattr(info, "capacityKb", None)
                    return DiskFile(int(capacity) if capacity else None, int(info.fileSize or 0))
        return None

    def volume_disks(self, datastore: str) -> list[DiskRef]:
        """Every volume disk ``dockvols/<vmgroup>/<name>.vmdk`` on one datastore."""
        spec = Browser.SearchSpec(matchPattern=["*.vmdk"], query=[Browser.VmDiskQuery()])
        results = self._search(datastore, DOCKVOLS, spec, recursive=True)
        disks = []
        for result in results or []:
            _, folder = split_ds_path(result.folderPath or "")
            parts = [p for p in folder.split("/") if p]
            if len(parts) != 2 or parts[0] != DOCKVOLS:
                continue  # dockvols itself, or deeper folders: not a vmgroup's volume folder
            for info in result.file or []:
                name = info.path or ""
                if name.endswith(".vmdk") and "/" not in name and not _NOT_A_VOLUME.search(name):
                    disks.append(DiskRef(datastore, parts[1], name[: -len(".vmdk")]))
        return disks
