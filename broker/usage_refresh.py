"""Allocated space kept fresh, and the day's usage sample filed: the sweep's accounting pass.

Create and detach record a volume's allocated (thin) space; while it stays attached, containers
keep writing. Every ``[broker] usage_refresh_s`` the sweep measures the volumes this broker
attached (idle ones too) with the backend's ``stat_disk``, a batch at a time on the worker pool
(never on the event loop), records them in one short transaction per batch, then files today's
``usage_samples`` from the usage report's own GROUP BY, through the admin reader connection (on
its own thread, so the VMs' store thread never waits behind it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from vdvs.broker.backends.base import Backend, BackendError, DiskRef
from vdvs.broker.inventory import Inventory
from vdvs.broker.runtime import Workers
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.usage import sample_day

log = logging.getLogger("vdvs.broker.usage")
BATCH = 32  # disks measured in one pool job, and recorded in one transaction


def _measure(backend: Backend, disks: Sequence[DiskRef]) -> list[int | None]:
    """Allocated bytes of each disk (on a pool thread); None for one that cannot be measured now."""
    found: list[int | None] = []
    for disk in disks:
        try:
            found.append(backend.stat_disk(disk).allocated_bytes)
        except BackendError as exc:
            log.debug("usage refresh: cannot measure %s: %s", disk, exc)
            found.append(None)
    return found


class UsageRefresh:
    def __init__(
        self, store: ConfigStore, reader: ConfigStore, backend: Backend, workers: Workers, inventory: Inventory
    ) -> None:
        self._store = store
        self._reader = reader  # admin reads, on the admin-read thread; its ``owner`` is this broker
        self._backend = backend
        self._workers = workers
        self._inventory = inventory

    async def refresh(self) -> tuple[int, int]:
        """Measure this broker's attached volumes, then file today's sample: (volumes measured, samples)."""
        held = await self._workers.admin_read(self._reader.own_attachments)
        measured = 0
        if held:
            await self._inventory.datastores()
        for start in range(0, len(held), BATCH):
            measured += await self._measure_batch(held[start : start + BATCH])
        samples = await self._workers.admin_read(self._reader.record_usage_samples, sample_day())
        return measured, samples

    async def _measure_batch(self, records: Sequence[VolumeRecord]) -> int:
        known = []
        for record in records:
            datastore = self._inventory.cached_name(record.datastore_url)
            if datastore is not None and record.attached_vm is not None:
                known.append((record, VolumeName(record.name, datastore).disk(record.vmgroup_id)))
        if not known:
            return 0
        sizes = await self._workers.disk(_measure, self._backend, [disk for _, disk in known])
        found = [
            (record.id, record.attached_vm or "", size)
            for (record, _), size in zip(known, sizes, strict=True)
            if size is not None
        ]
        return await self._workers.db(self._store.record_allocated, found) if found else 0
