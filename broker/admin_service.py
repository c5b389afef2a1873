"""AdminService servicer (root-only unix socket): one class made of the handler groups."""

from __future__ import annotations

from vdvs.broker.admin_enroll import EnrollmentHandlers
from vdvs.broker.admin_usage import UsageHandlers
from vdvs.broker.admin_vmgroups import VmgroupHandlers
from vdvs.broker.admin_volumes import VolumeAdminHandlers
from vdvs.proto import admin_pb2_grpc


class AdminServicer(
    EnrollmentHandlers, VmgroupHandlers, VolumeAdminHandlers, UsageHandlers, admin_pb2_grpc.AdminServiceServicer
):
    """Every AdminService RPC; the rules behind them are in tenancy/."""
