"""Cached views of the backend's datastores and VMs.

vSphere lookups are slow, so both are cached for a short while; a name that
is not found forces one refresh before the request is refused (as vDVS did
with its datastore cache). A VM's entry is also dropped when the backend's
watcher reports it renamed, moved or re-attributed (``forget_vm``), so the
facts membership rules match are never older than that report.
"""

from __future__ import annotations

import time

from vdvs.broker.backends.base import Backend, DatastoreInfo, VmInfo
from vdvs.broker.runtime import Workers
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.rules import VmFacts


class Inventory:
    def __init__(self, backend: Backend, workers: Workers, ttl_s: float = 30.0) -> None:
        self._backend = backend
        self._workers = workers
        self._ttl_s = ttl_s
        self._datastores: list[DatastoreInfo] = []
        self._refs: list[DatastoreRef] = []
        self._datastores_at = 0.0
        self._vms: dict[str, tuple[VmInfo, float]] = {}

    async def datastores(self, refresh: bool = False) -> list[DatastoreInfo]:
        if refresh or time.monotonic() - self._datastores_at > self._ttl_s or not self._datastores:
            self._datastores = await self._workers.disk(self._backend.datastores)
            self._refs = [DatastoreRef(d.name, d.url) for d in self._datastores]
            self._datastores_at = time.monotonic()
        return self._datastores

    async def refs(self, refresh: bool = False) -> list[DatastoreRef]:
        await self.datastores(refresh)
        return self._refs

    def cached_name(self, url: str) -> str | None:
        """Name of a datastore URL from the cache (call ``datastores()`` first)."""
        return next((d.name for d in self._datastores if d.url == url), None)

    def cached_info(self, name: str) -> DatastoreInfo | None:
        return next((d for d in self._datastores if d.name == name), None)

    async def vm(self, bios_uuid: str, vm_name: str, refresh: bool = False) -> VmInfo:
        """The VM as the backend sees it; VM_LOOKUP_FAILED if the backend does not know it."""
        cached = self._vms.get(bios_uuid)
        if cached and not refresh and time.monotonic() - cached[1] < self._ttl_s:
            return cached[0]
        info = await self._workers.disk(self._backend.find_vm, bios_uuid)
        if info is None:
            self._vms.pop(bios_uuid, None)
            raise VdvsError(Err.VM_LOOKUP_FAILED, vm_name, bios_uuid)
        self._vms[bios_uuid] = (info, time.monotonic())
        return info

    async def facts(self, bios_uuid: str, enrolled_name: str, refresh: bool = False) -> VmFacts:
        """What membership rules match the VM against, as the backend sees it: its name (the
        enrolled one where the backend has none: local), folder and custom attributes. Labels are
        the store's, added by ``membership.decide``."""
        info = await self.vm(bios_uuid, enrolled_name, refresh)
        return VmFacts(info.name or enrolled_name, info.folder, dict(info.attributes))

    def forget_vm(self, bios_uuid: str | None = None) -> None:
        """Drop one VM's cached entry (every VM's when None): the backend says it changed."""
        if bios_uuid is None:
            self._vms.clear()
        else:
            self._vms.pop(bios_uuid, None)

    async def power_state(self, bios_uuid: str) -> str | None:
        """Current power state (never cached: takeover decisions need the truth); None if gone."""
        info = await self._workers.disk(self._backend.find_vm, bios_uuid)
        return info.power_state if info else None
