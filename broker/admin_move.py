"""AdminService handler: `vdvs volume move` (a detached volume to another datastore).

The guard has let the caller in on the volume's vmgroup and audits the call whatever its outcome
(tenancy/roles.py: volume.move); the rules are tenancy/move.py's, the pipeline broker/move_ops.py's.
"""

from __future__ import annotations

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.move_ops import MoveOps
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP


class MoveHandlers(AdminHandlers):
    @rpc
    async def VolumeMove(self, request: admin_pb2.VolumeMoveRequest, context: Context) -> admin_pb2.VolumeMoveResponse:
        vmgroup = request.vmgroup or DEFAULT_VMGROUP
        moved = await MoveOps(self.ctx.volumes).move(self.caller().access, request.volume, vmgroup, request.to)
        return admin_pb2.VolumeMoveResponse(volume=moved.source.full, moved_to=moved.target.full, vmgroup=moved.vmgroup)
