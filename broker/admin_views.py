"""AdminService handlers: the effective-permissions view and the audit trail (rules in tenancy/).

Both read through the admin-read connection on its own thread, so a VM's call never waits behind
them, and show a delegated admin only its vmgroups.
"""

from __future__ import annotations

import datetime as dt
import time

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.audit import DEFAULT_LIMIT, AuditQuery, AuditRecord, parse_since
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.permissions import PermissionQuery, PermissionRow, show_permissions
from vdvs.tenancy.roles import AdminAccess, Role
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import ConfigStore

MAX_LIMIT = 100_000


def permission_message(row: PermissionRow) -> admin_pb2.Permission:
    return admin_pb2.Permission(
        subject=row.subject,
        subject_kind=row.subject_kind,
        uuid=row.uuid,
        vmgroup=row.vmgroup,
        datastore=row.datastore,
        verbs=row.verbs,
        max_volume_size_mb=row.max_volume_size_mb,
        total_mb=row.total_mb,
        used_mb=row.used_mb or 0,
        used_known=row.used_mb is not None,
        membership=row.membership,
        access=row.access,
        source=row.source,
        max_volume_size=format_admin_size(row.max_volume_size_mb),
        total=format_admin_size(row.total_mb),
        used="" if row.used_mb is None else format_admin_size(row.used_mb) if row.used_mb else "0.00MB",
        storage_policy=row.storage_policy,
        allowed_policies=row.allowed_policies,
    )


def audit_message(record: AuditRecord) -> admin_pb2.AuditRecord:
    return admin_pb2.AuditRecord(
        id=record.id,
        at=record.at,
        time=dt.datetime.fromtimestamp(record.at, dt.UTC).isoformat(timespec="milliseconds"),
        kind=record.kind,
        request_id=record.request_id,
        initiator=record.initiator,
        initiator_name=record.initiator_name,
        role=record.role,
        vmgroup=record.vmgroup,
        action=record.action,
        target=record.target,
        outcome=record.outcome,
        reason=record.reason,
    )


def _audit_query(
    reader: ConfigStore, caller: AdminAccess, request: admin_pb2.AuditListRequest, now: float
) -> AuditQuery:
    """The query a caller may run: a delegated admin's, inside the vmgroups it is vmgroup-admin of."""
    ids = caller.visible_ids(Role.VMGROUP_ADMIN)
    if request.vmgroup:
        vmgroup = reader.get_vmgroup_by_name(request.vmgroup)
        if vmgroup is None:  # the guard let only a platform admin ask about a vmgroup that is gone
            raise VdvsError(Err.TENANT_NOT_EXIST, request.vmgroup)
        ids = {vmgroup.id}
    limit = request.limit or DEFAULT_LIMIT
    if not 0 < limit <= MAX_LIMIT:
        raise VdvsError(Err.INVALID_ARGUMENT, f"--limit {limit}: give 1 to {MAX_LIMIT}")
    since = now - parse_since(request.since) if request.since else 0.0
    return AuditQuery(since, None if ids is None else frozenset(ids), request.principal.strip(), request.action, limit)


def _audit_records(
    reader: ConfigStore, caller: AdminAccess, request: admin_pb2.AuditListRequest, now: float
) -> list[AuditRecord]:
    return reader.list_audit(_audit_query(reader, caller, request, now))


class ViewHandlers(AdminHandlers):
    @rpc
    async def PermissionsShow(
        self, request: admin_pb2.PermissionsRequest, context: Context
    ) -> admin_pb2.PermissionsResponse:
        given = [name for name in ("vm", "vmgroup", "principal") if getattr(request, name)]
        if len(given) > 1:
            raise VdvsError(Err.INVALID_ARGUMENT, "give at most one of --vm, --vmgroup, --principal")
        query = PermissionQuery(request.vm.strip(), request.vmgroup.strip(), request.principal.strip())
        refs = await self.ctx.inventory.refs()
        async with self.ctx.listing:
            rows = await self.read(show_permissions, refs, self.caller().access, query)
        return admin_pb2.PermissionsResponse(rows=[permission_message(r) for r in rows])

    @rpc
    async def AuditList(self, request: admin_pb2.AuditListRequest, context: Context) -> admin_pb2.AuditListResponse:
        await self.ctx.audit.flush()  # what this broker recorded is in the store before it is read
        records = await self.read(_audit_records, self.caller().access, request, time.time())
        return admin_pb2.AuditListResponse(records=[audit_message(r) for r in records])
