"""AdminService servicer: one class made of the handler groups (the guard in front of it: broker/admin_guard.py)."""

from __future__ import annotations

from vdvs.broker.admin_enroll import EnrollmentHandlers
from vdvs.broker.admin_events import EventHandlers
from vdvs.broker.admin_extend import ExtendHandlers
from vdvs.broker.admin_fence import FenceHandlers
from vdvs.broker.admin_move import MoveHandlers
from vdvs.broker.admin_policies import PolicyHandlers
from vdvs.broker.admin_principals import PrincipalHandlers
from vdvs.broker.admin_rules import RuleHandlers
from vdvs.broker.admin_shares import ShareHandlers
from vdvs.broker.admin_snapshots import SnapshotHandlers
from vdvs.broker.admin_tokens import TokenHandlers
from vdvs.broker.admin_ui import UiHandlers
from vdvs.broker.admin_usage import UsageHandlers
from vdvs.broker.admin_views import ViewHandlers
from vdvs.broker.admin_vm_check import VmCheckHandlers
from vdvs.broker.admin_vmgroups import VmgroupHandlers
from vdvs.broker.admin_volumes import VolumeAdminHandlers
from vdvs.proto import admin_pb2_grpc


class AdminServicer(
    EnrollmentHandlers,
    VmgroupHandlers,
    VolumeAdminHandlers,
    FenceHandlers,
    PrincipalHandlers,
    ShareHandlers,
    ViewHandlers,
    RuleHandlers,
    UsageHandlers,
    UiHandlers,
    EventHandlers,
    VmCheckHandlers,
    TokenHandlers,
    ExtendHandlers,
    PolicyHandlers,
    MoveHandlers,
    SnapshotHandlers,
    admin_pb2_grpc.AdminServiceServicer,
):
    """Every AdminService RPC; the rules behind them are in tenancy/."""
