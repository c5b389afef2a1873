"""Snapshots: take one (a VM through Docker, or an admin), clone from one, and keep a volume's snapshots
from being orphaned by its removal.

Taking a snapshot is a create: ``reserve -> backend copy -> commit | give back``. The row is
reserved first (state ``creating``, ``parent_id`` set, its quota charge the volume's allocated
size), the backend makes the point-in-time copy on the worker pool under both volumes' locks,
and the row is committed with the space the copy really holds. A crash in between leaves a
``creating`` row that reconciliation undoes like any create (``broker/reconcile.py``).

Point-in-time: a reflink (local xfs/btrfs) or the backend's own snapshot (vSphere FCD) is atomic;
a sparse copy of a volume in use is refused unless the caller is its holder and its plugin froze
the filesystem for the copy (``tenancy.snapshots.check_point_in_time``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError, DiskExistsError
from vdvs.broker.identity import VmIdentity
from vdvs.broker.pipeline import Pipeline, Resolved, VolumeView
from vdvs.tenancy import authz, sidecar, snapshots
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import ALL_DS_URL, DatastoreRef, Privilege, VmGroup, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.options import CreateOptions
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import VolumeConflict

if TYPE_CHECKING:  # volume_ops calls into this module
    from vdvs.broker.volume_ops import VolumeOps

log = logging.getLogger("vdvs.broker.snapshots")


@dataclass(frozen=True)
class SnapshotPlan:
    """A snapshot to take: of which volume, under which name, for whom, under which privilege row."""

    vmgroup: VmGroup
    datastore: DatastoreRef
    parent: VolumeName  # on ``datastore``
    snapshot: VolumeName  # on ``datastore``
    privilege: Privilege | None  # None: no row (an admin's snapshot in a vmgroup without one): no quota
    initiator: tuple[str, str]  # (name, uuid) recorded as its creator
    caller_uuid: str | None = None  # the VM asking (Docker), None for an admin
    frozen: bool = False  # the caller's plugin froze the volume's filesystem for the copy


class SnapshotOps:
    """Built on the volume operations (their pipeline, locks and removal), by them and by the admin handlers."""

    def __init__(self, volumes: VolumeOps) -> None:
        self.volumes = volumes
        self.p: Pipeline = volumes.p

    # ------------------------------------------------------------------ take
    async def create(self, vm: VmIdentity, raw_name: str, opts: CreateOptions, frozen: bool) -> VolumeView:
        """`docker volume create -o snapshot-of=db db-before-upgrade`, by a VM of the vmgroup."""
        assert opts.snapshot_of is not None
        wanted = parse_volume_name(raw_name)
        parent_name = opts.snapshot_of
        if wanted.datastore is None and parent_name.datastore is not None:  # it lives next to its volume
            wanted = wanted.on(parent_name.datastore)
        req = await self.p.resolve(vm, wanted)
        if parent_name.datastore is None:
            parent_name = parent_name.on(req.datastore.name)
        parent = await self.p.resolve(vm, parent_name, req.tenancy)
        if parent.datastore.url != req.datastore.url:
            raise VdvsError(Err.SNAPSHOT_DATASTORE, req.full_name, parent.full_name, parent.datastore.name, req.name)
        try:
            self.p.authorize(parent, authz.Command.ATTACH)
        except VdvsError as exc:
            raise VdvsError(Err.CLONE_SOURCE_DENIED, exc.message, parent.datastore.name) from None
        # the right to create; its size was allowed when its volume was made (1 MB: the least it charges)
        privilege = self.p.authorize(req, authz.Command.CREATE, 1)
        plan = SnapshotPlan(
            req.vmgroup, req.datastore, parent.volume, req.volume, privilege, (vm.name, vm.uuid), vm.uuid, frozen
        )
        return await self.take(plan, opts.snapshot_of.full)

    async def take(self, plan: SnapshotPlan, shown_parent: str) -> VolumeView:
        """Reserve, copy, commit (module docstring). ``shown_parent``: the volume as the caller named it."""
        vmgroup, ds = plan.vmgroup, plan.datastore
        keys: list[tuple[Hashable, str]] = [(v.lock_key(vmgroup.id), v.full) for v in (plan.parent, plan.snapshot)]
        if keys[0][0] == keys[1][0]:
            raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(plan.snapshot.disk(vmgroup.id)))
        async with self.volumes.locks.hold_all(keys):
            parent = await self.p.workers.db(self.p.store.get_volume, vmgroup.id, ds.url, plan.parent.name)
            if parent is None or parent.state is not VolumeState.READY:
                raise VdvsError(Err.SNAPSHOT_PARENT_NOT_FOUND, shown_parent)
            snapshots.check_parent(parent, plan.parent.full)
            source, target = plan.parent.disk(vmgroup.id), plan.snapshot.disk(vmgroup.id)
            kind = await self.p.workers.disk(self.p.backend.snapshot_kind, source)
            snapshots.check_point_in_time(kind, parent, plan.caller_uuid, plan.frozen, (plan.parent.full, ds.name))
            held = (await self.p.workers.disk(self.p.backend.stat_disk, source)).allocated_bytes
            record = await self._reserve(plan, parent, held)
            faults.point("snapshot.after_reserve")
            meta = sidecar.build(record, vmgroup.name)
            try:
                stat = await self.p.workers.disk(self.p.backend.snapshot_disk, source, target, kind, meta, vmgroup.name)
            except DiskExistsError:
                await self.p.workers.db(self.p.store.delete_volume, record.id)
                raise VdvsError(Err.VOLUME_EXISTS, self.p.backend.display_path(target)) from None
            except BackendError as exc:
                await self.p.workers.db(self.p.store.delete_volume, record.id)
                raise VdvsError(Err.SNAPSHOT_FAILED, plan.snapshot.full, plan.parent.full, str(exc)) from None
            faults.point("commit.snapshot")
            record = await self.p.workers.db(self.p.store.finish_snapshot, record.id, stat.allocated_bytes)
        log.info("took snapshot %s of %s (%s, for %s)", plan.snapshot.full, plan.parent.full, kind, plan.initiator[0])
        return VolumeView(record, plan.snapshot)

    async def _reserve(self, plan: SnapshotPlan, parent: VolumeRecord, held: int) -> VolumeRecord:
        """The snapshot's row, charged the space the volume holds now (checked against quota and counts)."""
        privilege = plan.privilege
        counts = authz.count_limits(privilege, plan.vmgroup, plan.datastore.name) if privilege else None
        try:
            return await self.p.workers.db(
                self.p.store.reserve_volume,
                plan.vmgroup.id,
                plan.datastore.url,
                plan.snapshot.name,
                parent.size_mb,
                privilege.usage_quota_mb if privilege else 0,
                options=snapshots.snapshot_options(parent),
                created=vdvs_timestamp(),
                created_by=plan.initiator[0],
                created_by_uuid=plan.initiator[1],
                counts=counts,
                parent_id=parent.id,
                allocated_bytes=held,
            )
        except VolumeConflict:
            shown = self.p.backend.display_path(plan.snapshot.disk(plan.vmgroup.id))
            raise VdvsError(Err.VOLUME_EXISTS, shown) from None

    async def privilege_of(self, vmgroup_id: str, datastore_url: str) -> Privilege | None:
        """The privilege row that rules a vmgroup's volumes on a datastore (its own, else _ALL_DS)."""
        rows = {p.datastore_url: p for p in await self.p.workers.db(self.p.store.privileges, vmgroup_id)}
        return rows.get(datastore_url) or rows.get(ALL_DS_URL)

    # ------------------------------------------------------------------ clone from one
    async def clone_source(self, source: Resolved, snapshot_name: str) -> Resolved:
        """`-o clone-from=db -o from-snapshot=S`: the snapshot S of db, to clone instead of db itself."""
        parent = await self.p.volume(source)
        if parent is None or parent.state is not VolumeState.READY:
            raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, source.full_name)
        snapshot = await self.p.resolve(source.vm, VolumeName(snapshot_name, source.datastore.name), source.tenancy)
        record = await self.p.volume(snapshot)
        if record is None or record.state is not VolumeState.READY or record.parent_id != parent.id:
            raise VdvsError(Err.SNAPSHOT_NOT_FOUND, source.full_name, snapshot_name)
        return snapshot

    # ------------------------------------------------------------------ removal of the volume they were taken of
    async def before_remove(self, record: VolumeRecord, volume: VolumeName) -> None:
        """Called with ``volume``'s lock held, before it is removed: refused while it has snapshots, unless
        its vmgroup cascades (then they go first, each under its own lock)."""
        if record.parent_id is not None:
            return  # a snapshot: nothing hangs on it
        found = await self.p.workers.db(self.p.store.snapshots_of, record.id)
        if not found:
            return
        vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, record.vmgroup_id)
        cascade = vmgroup is not None and vmgroup.cascade_delete
        snapshots.check_remove(volume.full, [s.name for s in found], cascade, vmgroup.name if vmgroup else "?")
        for snap in found:
            name = VolumeName(snap.name, volume.datastore)
            async with self.volumes.locks.hold(name.lock_key(snap.vmgroup_id), name.full):
                current = await self.p.workers.db(self.p.store.volume_by_id, snap.id)
                if current is not None:
                    await self.volumes._remove_locked(current, name)
            log.info("removed snapshot %s with its volume %s (cascade-delete)", name.full, volume.full)

    async def ready_with_snapshots(self, req: Resolved) -> tuple[VolumeRecord, list[str]]:
        """``Pipeline.ready_volume`` and the names of the volume's snapshots (`docker volume inspect` lists
        them), in one store read."""
        store, key = self.p.store, ("volume", req.vmgroup.id, req.datastore.url, req.name)

        async def load() -> tuple[VolumeRecord | None, tuple[str, ...]]:
            record, names = await self.p.workers.db(store.volume_and_snapshots, *key[1:])
            return record, tuple(names)

        record, names = await self.p.reads.read(key, load)
        if record is None or record.state is not VolumeState.READY:
            raise self.p.not_found(req)
        return record, list(names)
