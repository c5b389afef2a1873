"""Create, clone, remove, get and list: the broker pipeline for volume lifecycles.

Every change is ``reserve -> backend op -> commit | roll back``: the DB row is
claimed first (so quotas and names are decided in one transaction), the disk
operation runs on the worker pool under the volume's lock, and the row is then
committed or given back. A crash in between leaves a ``creating``/``deleting``
row that reconciliation (at start, or the sweep once its lease runs out) settles.

A create or a remove that carries its vmgroup's use on the datastore across the privilege row's
alert threshold (``tenancy.alerts``) reports an event: the use before is the one the reservation
(or the row's deletion) read in its own transaction, so racing calls each see their own step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from vdvs.broker import faults
from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.backends.base import BackendError, DiskExistsError, DiskStat
from vdvs.broker.capacity import Capacity
from vdvs.broker.identity import VmIdentity
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.pipeline import Pipeline, Resolved, VolumeView
from vdvs.broker.snapshot_ops import SnapshotOps
from vdvs.tenancy import alerts, authz, sidecar
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.events import BROKER, crossing_event
from vdvs.tenancy.model import ALL_DS_URL, Privilege, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.options import CreateOptions, VolumeOptions, validate_create_options
from vdvs.tenancy.policies import PolicyChoice, choose_policy
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import VolumeConflict

log = logging.getLogger("vdvs.broker.volumes")


class VolumeOps:
    def __init__(self, pipeline: Pipeline, locks: KeyedLocks, attach: AttachOps, capacity: Capacity) -> None:
        self.p = pipeline
        self.locks = locks
        self.attach = attach
        self.capacity = capacity

    # ------------------------------------------------------------------ create
    async def create(
        self,
        vm: VmIdentity,
        raw_name: str,
        raw_opts: dict[str, str],
        host_filesystems: list[str] | None,
        frozen: bool = False,
    ) -> VolumeView:
        """``frozen``: a snapshot's volume is mounted by the caller, whose plugin froze it for the copy."""
        req = await self.p.resolve(vm, parse_volume_name(raw_name))  # first: a refusal is labelled with both
        opts = validate_create_options(raw_opts, host_filesystems)
        if opts.snapshot_of is not None:
            return await SnapshotOps(self).create(vm, raw_name, opts, frozen)
        if opts.clone_source is not None:
            return await self._clone(req, opts, opts.clone_source)
        privilege = self.p.authorize(req, authz.Command.CREATE, opts.size_mb)
        policy = await self._policy(req, opts.options.vsan_policy, privilege)
        options = replace(opts.options, vsan_policy=policy.name)
        async with self.locks.hold(req.lock_key, req.full_name):
            record, before = await self._reserve(req, opts.size_mb, privilege, options)
            faults.point("create.after_reserve")
            stat = await self._make_disk(
                req,
                record,
                self.p.backend.create_disk,
                req.disk,
                opts.size_mb,
                options.diskformat,
                sidecar.build(record, req.vmgroup.name),
                req.vmgroup.name,
                policy.content if policy.applied else None,
            )
            faults.point("commit.create")
            record = await self.p.workers.db(self.p.store.finish_create, record.id, stat.allocated_bytes)
            faults.point("create.after_commit")
        self._alert(privilege, req, before, opts.size_mb)
        log.info("created volume %s for VM %s (vmgroup %s)", req.full_name, vm.name, req.vmgroup.name)
        return VolumeView(record, req.volume)

    async def _policy(self, req: Resolved, explicit: str | None, privilege: Privilege) -> PolicyChoice:
        """The create's storage policy (``tenancy.policies.choose_policy``); no store read when none is named
        and the access row has no default."""
        if explicit is None and privilege.storage_policy is None:
            return PolicyChoice()
        known = {p.name: p.content for p in await self.p.workers.db(self.p.store.policies)}
        info = self.p.inventory.cached_info(req.datastore.name)
        return choose_policy(
            explicit,
            privilege,
            known,
            info.kind if info else None,
            self.p.backend.applies_policies,
            (req.vmgroup.name, req.datastore.name),
        )

    async def _reserve(
        self, req: Resolved, size_mb: int, privilege: Privilege, options: VolumeOptions
    ) -> tuple[VolumeRecord, tuple[int, int]]:
        """The row, reserved under the privilege's size quota and count limit and the vmgroup's own
        count limit, all checked in the reservation's one transaction; and the (MB, volumes) the
        vmgroup held on the datastore before it."""
        await self.capacity.check(req, size_mb, options.diskformat)  # a datastore without room: nothing reserved
        counts = authz.count_limits(privilege, req.vmgroup, req.datastore.name)
        before: list[int] = []
        try:
            record = await self.p.workers.db(
                self.p.store.reserve_volume,
                req.vmgroup.id,
                req.datastore.url,
                req.name,
                size_mb,
                privilege.usage_quota_mb,
                options=options,
                created=vdvs_timestamp(),
                created_by=req.vm.name,
                created_by_uuid=req.vm.uuid,
                counts=counts,
                seen=lambda mb, volumes: before.extend((mb, volumes)),
            )
        except VolumeConflict:
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(req.disk)) from None
        return record, (before[0], before[1])

    def _alert(self, privilege: Privilege, req: Resolved, before: tuple[int, int], size_mb: int) -> None:
        """Report the thresholds a VM's create crossed (size_mb > 0) or its remove (size_mb < 0)."""
        where = (req.vmgroup.id, req.vmgroup.name, req.datastore.name)
        self._crossed(privilege, where, before, size_mb, (req.vm.uuid, req.vm.name))

    def _crossed(
        self,
        privilege: Privilege | None,
        where: tuple[str, str, str],
        before: tuple[int, int],
        size_mb: int,
        initiator: tuple[str, str],
    ) -> None:
        """``where``: (vmgroup id, vmgroup name, datastore name); one volume of ``size_mb`` (negative: gone)."""
        if privilege is None or privilege.alert_at is None:
            return
        after = (before[0] + size_mb, before[1] + (1 if size_mb > 0 else -1))
        for crossing in alerts.crossings(privilege, before, after):
            self.p.events(crossing_event(crossing, *where, initiator))

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
            err = Err.CLONE_FAILED if record.options.clone_from is not None else Err.CREATE_FAILED
            raise VdvsError(err, str(exc)) from None
        except VdvsError:
            # timed out: the disk may still appear; reconciliation settles the 'creating' row
            raise
        except Exception:
            await self.p.workers.db(self.p.store.delete_volume, record.id)
            raise
        return stat

    async def _clone(self, req: Resolved, opts: CreateOptions, source_name: VolumeName) -> VolumeView:
        wanted = source_name.full  # as the user wrote it, for the error texts
        if source_name.datastore is None:  # the source is looked for on the target's datastore
            source_name = source_name.on(req.datastore.name)
        source = await self.p.resolve(req.vm, source_name, req.tenancy)
        if opts.from_snapshot is not None:  # a clone of one of the source's snapshots
            source = await SnapshotOps(self).clone_source(source, opts.from_snapshot)
        try:
            self.p.authorize(source, authz.Command.ATTACH)
        except VdvsError as exc:
            raise VdvsError(Err.CLONE_SOURCE_DENIED, exc.message, source.datastore.name) from None
        if source.lock_key == req.lock_key:  # cloning a volume onto its own name
            if await self.p.volume(req) is None:
                raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, wanted)
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(req.disk))
        async with self.locks.hold_all([(source.lock_key, source.full_name), (req.lock_key, req.full_name)]):
            src = await self.p.volume(source)
            if src is None or src.state != VolumeState.READY:
                raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, wanted)
            # A clone costs its source's size, and counts against the quota (vDVS forgot to).
            privilege = self.p.authorize(req, authz.Command.CREATE, src.size_mb)
            policy = await self._policy(req, opts.options.vsan_policy, privilege)
            # a clone has its source's filesystem, and the policy it names (or its access row's default)
            options = replace(opts.options, fstype=src.options.fstype, vsan_policy=policy.name)
            record, before = await self._reserve(req, src.size_mb, privilege, options)
            faults.point("clone.after_reserve")
            stat = await self._make_disk(
                req,
                record,
                self.p.backend.clone_disk,
                source.disk,
                req.disk,
                options.diskformat,
                sidecar.build(record, req.vmgroup.name),
                req.vmgroup.name,
                policy.content if policy.applied else None,
            )
            faults.point("commit.clone")
            record = await self.p.workers.db(self.p.store.finish_create, record.id, stat.allocated_bytes)
        self._alert(privilege, req, before, src.size_mb)
        log.info("cloned %s into %s for VM %s", source.full_name, req.full_name, req.vm.name)
        return VolumeView(record, req.volume)

    # ------------------------------------------------------------------ remove
    async def remove(self, vm: VmIdentity, raw_name: str) -> None:
        req = await self.p.resolve(vm, parse_volume_name(raw_name))
        privilege = self.p.authorize(req, authz.Command.REMOVE)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.ready_volume(req)
            after = await self._remove_locked(record, req.volume)
        self._alert(privilege, req, (after[0] + record.size_mb, after[1] + 1), -record.size_mb)
        log.info("removed volume %s for VM %s", req.full_name, vm.name)

    async def remove_as_admin(self, record: VolumeRecord, volume: VolumeName) -> None:
        """Delete a volume for an admin command (no VM, no privilege check), under its lock."""
        async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full):
            current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
            if current is None:
                return
            after = await self._remove_locked(current, volume)
        rows = {p.datastore_url: p for p in await self.p.workers.db(self.p.store.privileges, current.vmgroup_id)}
        privilege = rows.get(current.datastore_url) or rows.get(ALL_DS_URL)
        vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, current.vmgroup_id)
        where = (current.vmgroup_id, vmgroup.name if vmgroup else "", volume.datastore or "")
        self._crossed(privilege, where, (after[0] + current.size_mb, after[1] + 1), -current.size_mb, (BROKER, BROKER))
        log.info("removed volume %s (admin)", volume.full)

    async def _remove_locked(self, record: VolumeRecord, volume: VolumeName) -> tuple[int, int]:
        """Remove the volume; the (MB, volumes) its vmgroup holds on the datastore after."""
        await SnapshotOps(self).before_remove(record, volume)
        if record.in_use:
            raise VdvsError(Err.VOLUME_IN_USE, record.name, record.attached_vm_name or record.attached_vm)
        if record.attached_vm is not None:  # idle on its last holder: nobody mounts it, so it may go
            record = await self.attach.detach_idle(record, volume)
        try:
            record = await self.p.workers.db(self.p.store.begin_remove, record.id)
        except VolumeConflict as exc:
            holder = exc.current.attached_vm_name if exc.current else "?"
            raise VdvsError(Err.VOLUME_IN_USE, record.name, holder) from None
        faults.point("remove.after_begin")
        disk = volume.disk(record.vmgroup_id)
        try:
            await self.p.workers.disk(self.p.backend.remove_disk, disk)
        except BackendError as exc:
            await self.p.workers.db(self.p.store.abort_remove, record.id)
            raise VdvsError(Err.REMOVE_FAILED, str(exc)) from None
        faults.point("remove.before_row_delete")
        return await self.p.workers.db(self.p.store.delete_counted, record.id, record.vmgroup_id, record.datastore_url)

    # ------------------------------------------------------------------ read
    async def get(self, vm: VmIdentity, raw_name: str) -> VolumeView:
        """One store read: the row. Its size and space in use are recorded, so no disk is asked."""
        req = await self.p.resolve(vm, parse_volume_name(raw_name))
        self.p.authorize(req, authz.Command.GET)
        record, snapshots = await SnapshotOps(self).ready_with_snapshots(req)
        if record.device is None and record.attached_vm is not None:  # attached by this broker: it knows where
            record = replace(record, device=self.attach.known_device(record))
        return VolumeView(record, req.volume, tuple(snapshots))

    async def list_names(self, vm: VmIdentity) -> list[str]:
        """``name@datastore`` of every volume of the caller's vmgroup; [] for a VM in no vmgroup."""
        try:
            vmgroup = await self.p.vmgroup(vm)
        except VdvsError as exc:
            if exc.err is Err.VM_NOT_BELONG_TO_TENANT:
                return []  # vDVS #990: an error here makes Docker show stale names
            raise
        store = self.p.store

        async def load() -> tuple[tuple[str, str], ...]:
            return tuple(await self.p.workers.db(store.volume_names, vmgroup.id))

        pairs = await self.p.reads.read(("names", vmgroup.id), load)
        datastores = {d.url: d.name for d in await self.p.inventory.datastores()}
        return [VolumeName(name, datastores[url]).full for name, url in pairs if url in datastores]
