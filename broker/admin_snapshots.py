"""AdminService handlers: `vdvs volume snapshot create|ls|rm --volume v@ds --name S`.

The snapshot is taken, listed and removed by the same operations as a VM's (``broker/snapshot_ops.py``,
``VolumeOps.remove_as_admin``), so quotas, counts, point-in-time checks, locks and crash safety are
the same; the guard audits each call (``tenancy/roles.py``: volume.snapshot.*), refusals included.
"""

from __future__ import annotations

import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.snapshot_ops import SnapshotOps, SnapshotPlan
from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP, DatastoreRef, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.vmgroups import require_vmgroup
from vdvs.tenancy.volume_admin import find_volume

log = logging.getLogger("vdvs.broker.admin")


def snapshot_message(record: VolumeRecord, parent: VolumeName, vmgroup: str) -> admin_pb2.VolumeSnapshot:
    return admin_pb2.VolumeSnapshot(
        name=record.name,
        volume=parent.full,
        vmgroup=vmgroup,
        created=record.created,
        created_by=record.created_by,
        capacity_mb=record.size_mb,
        allocated_bytes=record.allocated_bytes,
        status=record.status,
        attached_to_vm=(record.attached_vm_name or record.attached_vm or "") if record.attached_vm else "",
    )


def snapshot_name(request: admin_pb2.VolumeSnapshotRequest) -> str:
    """The snapshot's short name (it lives on its volume's datastore): checked as any volume name."""
    if not request.name or "@" in request.name:
        raise VdvsError(Err.SNAPSHOT_NAME_INVALID, request.name or "''")
    return parse_volume_name(request.name).name


class SnapshotHandlers(AdminHandlers):
    async def _volume(self, request: admin_pb2.VolumeSnapshotRequest) -> tuple[VolumeRecord, DatastoreRef, str]:
        vmgroup = request.vmgroup or DEFAULT_VMGROUP
        record, datastore = await self.db(find_volume, self.ctx.store, await self.datastores(), request.volume, vmgroup)
        return record, datastore, vmgroup

    @rpc
    async def VolumeSnapshotCreate(
        self, request: admin_pb2.VolumeSnapshotRequest, context: Context
    ) -> admin_pb2.VolumeSnapshot:
        name = snapshot_name(request)
        record, datastore, vmgroup_name = await self._volume(request)
        vmgroup = await self.db(require_vmgroup, self.ctx.store, vmgroup_name)
        ops = SnapshotOps(self.ctx.volumes)
        parent = VolumeName(record.name, datastore.name)
        plan = SnapshotPlan(
            vmgroup,
            datastore,
            parent,
            VolumeName(name, datastore.name),
            await ops.privilege_of(vmgroup.id, datastore.url),
            (self.caller().principal, ""),
        )
        view = await ops.take(plan, request.volume)
        log.info("admin: took snapshot %s of %s (vmgroup %s)", view.full_name, parent.full, vmgroup.name)
        return snapshot_message(view.record, parent, vmgroup.name)

    @rpc
    async def VolumeSnapshotList(
        self, request: admin_pb2.VolumeSnapshotRequest, context: Context
    ) -> admin_pb2.VolumeSnapshots:
        record, datastore, vmgroup = await self._volume(request)
        parent = VolumeName(record.name, datastore.name)
        found = await self.read(lambda store: store.snapshots_of(record.id))
        return admin_pb2.VolumeSnapshots(
            snapshots=[snapshot_message(s, parent, vmgroup) for s in found if s.state is VolumeState.READY]
        )

    @rpc
    async def VolumeSnapshotRemove(
        self, request: admin_pb2.VolumeSnapshotRequest, context: Context
    ) -> admin_pb2.VolumeSnapshot:
        name = snapshot_name(request)
        record, datastore, vmgroup = await self._volume(request)
        parent = VolumeName(record.name, datastore.name)
        snapshot = await self.db(self.ctx.store.get_volume, record.vmgroup_id, datastore.url, name)
        if snapshot is None or snapshot.state is not VolumeState.READY:
            raise VdvsError(Err.SNAPSHOT_NOT_FOUND, parent.full, name)
        if snapshot.parent_id != record.id:
            raise VdvsError(Err.NOT_A_SNAPSHOT, VolumeName(name, datastore.name).full, parent.full)
        await self.ctx.volumes.remove_as_admin(snapshot, VolumeName(name, datastore.name))
        log.info("admin: removed snapshot %s of %s (vmgroup %s)", name, parent.full, vmgroup)
        return snapshot_message(snapshot, parent, vmgroup)
