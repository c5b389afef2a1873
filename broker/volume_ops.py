"""Create, clone, remove, get and list: the broker pipeline for volume lifecycles.

Every change is ``reserve -> backend op -> commit | roll back``: the DB row is
claimed first (so quotas and names are decided in one transaction), the disk
operation runs on the worker pool under the volume's lock, and the row is then
committed or given back. A crash in between leaves a ``creating``/``deleting``
row that startup reconciliation settles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError, DiskExistsError, DiskNotFoundError, DiskRef, DiskStat
from vdvs.broker.identity import VmIdentity
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.pipeline import Pipeline, Resolved
from vdvs.tenancy import authz
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.names import parse_volume_name
from vdvs.tenancy.options import CLONE_FROM, FSTYPE, CreateOptions, validate_create_options
from vdvs.tenancy.status import sidecar, vdvs_timestamp
from vdvs.tenancy.store import VolumeConflict

log = logging.getLogger("vdvs.broker.volumes")


@dataclass(frozen=True)
class VolumeView:
    """A volume as the caller may see it."""

    record: VolumeRecord
    datastore: str
    stat: DiskStat

    @property
    def full_name(self) -> str:
        return f"{self.record.name}@{self.datastore}"


class VolumeOps:
    def __init__(self, pipeline: Pipeline, locks: KeyedLocks) -> None:
        self.p = pipeline
        self.locks = locks

    # ------------------------------------------------------------------ create
    async def create(
        self, vm: VmIdentity, raw_name: str, raw_opts: dict[str, str], host_filesystems: list[str] | None
    ) -> VolumeView:
        req = await self.p.resolve(vm, raw_name)
        opts = validate_create_options(raw_opts, host_filesystems)
        info = self.p.inventory.cached_info(req.datastore.name)
        if opts.vsan_policy is not None and (info is None or info.kind != "vsan"):
            raise VdvsError(Err.VSAN_POLICY_ON_NON_VSAN)
        if opts.clone_from is not None:
            return await self._clone(req, opts)
        privilege = await self.p.authorize(req, authz.Command.CREATE, opts.size_mb)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self._reserve(req, opts.size_mb, privilege.usage_quota_mb, opts.recorded())
            faults.point("create.after_reserve")
            meta = sidecar(record, req.vmgroup.name)
            stat = await self._make_disk(
                req,
                record,
                self.p.backend.create_disk,
                req.disk,
                opts.size_mb,
                opts.diskformat,
                meta,
                req.vmgroup.name,
            )
            faults.point("commit.create")
            record = await self.p.workers.db(self.p.store.finish_create, record.id, stat.allocated_bytes)
            faults.point("create.after_commit")
        log.info("created volume %s for VM %s (vmgroup %s)", req.full_name, vm.name, req.vmgroup.name)
        return VolumeView(record, req.datastore.name, stat)

    async def _reserve(self, req: Resolved, size_mb: int, quota_mb: int, options: dict[str, str]) -> VolumeRecord:
        try:
            return await self.p.workers.db(
                self.p.store.reserve_volume,
                req.vmgroup.id,
                req.datastore.url,
                req.name,
                size_mb,
                quota_mb,
                options=options,
                created=vdvs_timestamp(),
                created_by=req.vm.name,
                created_by_uuid=req.vm.uuid,
            )
        except VolumeConflict:
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(req.disk)) from None

    async def _make_disk(
        self, req: Resolved, record: VolumeRecord, fn: Callable[..., DiskStat], *args: object
    ) -> DiskStat:
        """Run the backend create/clone; on failure give the reservation back."""
        try:
            stat = await self.p.workers.disk(fn, *args)
        except DiskExistsError:
            # A disk with no row (left by an older config store, or another broker): report, never reuse.
            await self.p.workers.db(self.p.store.delete_volume, record.id)
            log.warning("disk %s exists without a config-store row", self.p.backend.display_path(req.disk))
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(req.disk)) from None
        except BackendError as exc:
            await self.p.workers.db(self.p.store.delete_volume, record.id)
            err = Err.CLONE_FAILED if CLONE_FROM in record.options else Err.CREATE_FAILED
            raise VdvsError(err, str(exc)) from None
        except VdvsError:
            # timed out: the disk may still appear; reconciliation settles the 'creating' row
            raise
        except Exception:
            await self.p.workers.db(self.p.store.delete_volume, record.id)
            raise
        return stat

    async def _clone(self, req: Resolved, opts: CreateOptions) -> VolumeView:
        source_name = parse_volume_name(opts.clone_from or "")
        source_raw = opts.clone_from if source_name.datastore else f"{source_name.name}@{req.datastore.name}"
        source = await self.p.resolve(req.vm, source_raw or "", req.vmgroup)
        try:
            await self.p.authorize(source, authz.Command.ATTACH)
        except VdvsError as exc:
            raise VdvsError(Err.CLONE_SOURCE_DENIED, exc.message, source.datastore.name) from None
        if source.lock_key == req.lock_key:  # cloning a volume onto its own name
            existing = await self.p.workers.db(self.p.store.get_volume, req.vmgroup.id, req.datastore.url, req.name)
            if existing is None:
                raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, opts.clone_from)
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(req.disk))
        async with self.locks.hold_all([(source.lock_key, source.full_name), (req.lock_key, req.full_name)]):
            src = await self.p.workers.db(self.p.store.get_volume, source.vmgroup.id, source.datastore.url, source.name)
            if src is None or src.state != VolumeState.READY:
                raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, opts.clone_from)
            # A clone costs its source's size, and counts against the quota (vDVS forgot to).
            privilege = await self.p.authorize(req, authz.Command.CREATE, src.size_mb)
            options = {**opts.recorded(), CLONE_FROM: source.name}
            if FSTYPE in src.options:
                options[FSTYPE] = src.options[FSTYPE]
            record = await self._reserve(req, src.size_mb, privilege.usage_quota_mb, options)
            faults.point("clone.after_reserve")
            stat = await self._make_disk(
                req,
                record,
                self.p.backend.clone_disk,
                source.disk,
                req.disk,
                opts.diskformat,
                sidecar(record, req.vmgroup.name),
                req.vmgroup.name,
            )
            faults.point("commit.clone")
            record = await self.p.workers.db(self.p.store.finish_create, record.id, stat.allocated_bytes)
        log.info("cloned %s into %s for VM %s", source.full_name, req.full_name, req.vm.name)
        return VolumeView(record, req.datastore.name, stat)

    # ------------------------------------------------------------------ remove
    async def remove(self, vm: VmIdentity, raw_name: str) -> None:
        req = await self.p.resolve(vm, raw_name)
        await self.p.authorize(req, authz.Command.REMOVE)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.ready_volume(req)
            await self._remove_locked(record, req.disk)
        log.info("removed volume %s for VM %s", req.full_name, vm.name)

    async def remove_as_admin(self, record: VolumeRecord, datastore: str) -> None:
        """Delete a volume for an admin command (no VM, no privilege check), under its lock."""
        key = (record.vmgroup_id, record.datastore_url, record.name)
        async with self.locks.hold(key, f"{record.name}@{datastore}"):
            current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
            if current is not None:
                await self._remove_locked(current, DiskRef(datastore, record.vmgroup_id, record.name))
        log.info("removed volume %s@%s (admin)", record.name, datastore)

    async def _remove_locked(self, record: VolumeRecord, disk: DiskRef) -> None:
        if record.attached_vm is not None:
            raise VdvsError(Err.VOLUME_IN_USE, record.name, record.attached_vm_name or record.attached_vm)
        try:
            record = await self.p.workers.db(self.p.store.begin_remove, record.id)
        except VolumeConflict as exc:
            holder = exc.current.attached_vm_name if exc.current else "?"
            raise VdvsError(Err.VOLUME_IN_USE, record.name, holder) from None
        faults.point("remove.after_begin")
        try:
            await self.p.workers.disk(self.p.backend.remove_disk, disk)
        except BackendError as exc:
            await self.p.workers.db(self.p.store.abort_remove, record.id)
            raise VdvsError(Err.REMOVE_FAILED, str(exc)) from None
        faults.point("remove.before_row_delete")
        await self.p.workers.db(self.p.store.delete_volume, record.id)

    # ------------------------------------------------------------------ read
    async def get(self, vm: VmIdentity, raw_name: str) -> VolumeView:
        req = await self.p.resolve(vm, raw_name)
        await self.p.authorize(req, authz.Command.GET)
        record = await self.p.ready_volume(req)
        try:
            stat = await self.p.workers.disk(self.p.backend.stat_disk, req.disk)
        except DiskNotFoundError:
            log.error("volume %s has a row but its disk %s is gone", req.full_name, req.disk.vmdk)
            raise VdvsError(Err.VOLUME_NOT_FOUND, req.name, self.p.backend.display_path(req.disk)) from None
        return VolumeView(record, req.datastore.name, stat)

    async def list_names(self, vm: VmIdentity) -> list[str]:
        """``name@datastore`` of every volume of the caller's vmgroup; [] for a VM in no vmgroup."""
        try:
            vmgroup = await self.p.vmgroup(vm)
        except VdvsError as exc:
            if exc.err is Err.VM_NOT_BELONG_TO_TENANT:
                return []  # vDVS #990: an error here makes Docker show stale names
            raise
        pairs = await self.p.workers.db(self.p.store.volume_names, vmgroup.id)
        datastores = {d.url: d.name for d in await self.p.inventory.datastores()}
        return [f"{name}@{datastores[url]}" for name, url in pairs if url in datastores]
