"""AdminService handler: `vdvs volume extend --volume v@ds --size 2gb` (issue 14, online extend).

The same operation as a VM's Extend (broker/extend_ops.py), on a volume the admin names with its
vmgroup; the guard checks the caller's role and audits the call (tenancy/roles.py: volume.extend).
The broker cannot reach the guest: a VM that has the volume mounted grows its filesystem when its
plugin's watcher sees the bigger disk (plugin/extend.py, within its interval), else at the next mount.
"""

from __future__ import annotations

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.sizes import size_text
from vdvs.tenancy.volume_admin import find_volume


class ExtendHandlers(AdminHandlers):
    @rpc
    async def VolumeExtend(
        self, request: admin_pb2.VolumeExtendRequest, context: Context
    ) -> admin_pb2.VolumeExtendResponse:
        if self.ctx.extend is None:
            raise VdvsError(Err.INTERNAL_ERROR, "extend is not set up on this broker")
        datastores = await self.datastores()
        vmgroup = request.vmgroup or DEFAULT_VMGROUP
        record, datastore = await self.db(find_volume, self.ctx.store, datastores, request.volume, vmgroup)
        volume = VolumeName(record.name, datastore.name)
        grown, plan = await self.ctx.extend.extend_as_admin(record, volume, vmgroup, request.size)
        return admin_pb2.VolumeExtendResponse(
            volume=volume.full,
            old_size=size_text(plan.from_mb),
            new_size=size_text(grown.size_mb),
            capacity_mb=grown.size_mb,
            # in use (mounted) there: its plugin's watcher grows the filesystem; an idle one grows at the next mount
            attached_to=(grown.attached_vm_name or grown.attached_vm or "") if grown.in_use else "",
        )
