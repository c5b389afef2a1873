"""AdminService handlers: admin principals (enroll, revoke, list) and role grants (rules in tenancy/grants.py)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.pki import DEFAULT_ADMIN_DAYS
from vdvs.proto import admin_pb2
from vdvs.tenancy import grants
from vdvs.tenancy.admins import KIND_CERT, AdminRecord, admin_principal
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.roles import GrantRecord
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.admin")


def admin_status(record: AdminRecord, now: dt.datetime) -> str:
    if record.revoked:
        return "revoked"
    try:
        not_after = dt.datetime.fromisoformat(record.not_after)
    except ValueError:
        return "expired"
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=dt.UTC)
    return "expired" if not_after <= now else "active"


def admin_message(record: AdminRecord, now: dt.datetime) -> admin_pb2.Admin:
    return admin_pb2.Admin(
        id=record.id,
        name=record.name,
        kind=record.kind,
        principals=list(record.principals),
        serial=record.serial,
        not_after=record.not_after,
        issued_at=record.issued_at,
        status=admin_status(record, now),
    )


def grant_message(grant: GrantRecord, vmgroup: str) -> admin_pb2.Grant:
    return admin_pb2.Grant(
        id=grant.id,
        principal=grant.principal,
        role=grant.role.value,
        vmgroup=vmgroup,
        selector=grant.selector,
        created=grant.created,
    )


def _revoke(store: ConfigStore, name: str) -> list[str]:
    if not store.admins_named(name):
        raise VdvsError(Err.ADMIN_NOT_FOUND, name)
    return store.revoke_admins(name)


class PrincipalHandlers(AdminHandlers):
    @rpc
    async def AdminEnroll(
        self, request: admin_pb2.AdminEnrollRequest, context: Context
    ) -> admin_pb2.AdminEnrollResponse:
        """An admin certificate for ``name`` (principal admin:NAME), recorded before it is handed out."""
        name = request.name.strip()
        grants.check_admin_name(name)
        days = request.valid_days or DEFAULT_ADMIN_DAYS
        if days < 0:
            raise VdvsError(Err.INVALID_ARGUMENT, f"valid days {days}")
        admin_id = str(uuid.uuid4())
        issued = await self.ctx.workers.disk(self.ctx.ca.issue_admin_cert, name, admin_id, days)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        principal = admin_principal(name)
        record = AdminRecord(admin_id, name, KIND_CERT, (principal,), issued.serial, issued.not_after.isoformat(), now)
        await self.db(self.ctx.store.add_admin, record)
        log.info("admin: enrolled admin %s (certificate %s)", name, issued.serial)
        return admin_pb2.AdminEnrollResponse(
            ca_pem=self.ctx.ca.ca_pem().decode(),
            cert_pem=issued.cert_pem.decode(),
            key_pem=issued.key_pem.decode(),
            serial=issued.serial,
            not_after=record.not_after,
            id=admin_id,
            principal=principal,
        )

    @rpc
    async def AdminRevoke(self, request: admin_pb2.AdminRef, context: Context) -> admin_pb2.AdminRevokeResponse:
        serials = await self.db(_revoke, self.ctx.store, request.name.strip())
        log.info("admin: revoked admin %s (%d certificate(s))", request.name, len(serials))
        return admin_pb2.AdminRevokeResponse(serials=serials)

    @rpc
    async def AdminList(self, request: admin_pb2.AdminListRequest, context: Context) -> admin_pb2.AdminListResponse:
        records = await self.read(lambda reader: reader.list_admins())
        now = dt.datetime.now(dt.UTC)
        return admin_pb2.AdminListResponse(admins=[admin_message(r, now) for r in records])

    @rpc
    async def GrantAdd(self, request: admin_pb2.GrantRequest, context: Context) -> admin_pb2.Grant:
        spec = grants.parse_grant(request.principal, request.role, request.vmgroup, request.selector)
        record = await self.db(grants.add_grant, self.ctx.store, spec)
        log.info("admin: granted %s", spec)
        return grant_message(record, spec.vmgroup)

    @rpc
    async def GrantRemove(self, request: admin_pb2.GrantRequest, context: Context) -> admin_pb2.Grant:
        spec = grants.parse_grant(request.principal, request.role, request.vmgroup, request.selector)
        await self.db(grants.remove_grant, self.ctx.store, spec)
        log.info("admin: removed grant %s", spec)
        return admin_pb2.Grant(
            principal=spec.principal, role=spec.role.value, vmgroup=spec.vmgroup, selector=spec.selector
        )

    @rpc
    async def GrantList(self, request: admin_pb2.GrantListRequest, context: Context) -> admin_pb2.GrantListResponse:
        found = await self.read(grants.list_grants, self.caller().access, request.principal.strip())
        return admin_pb2.GrantListResponse(grants=[grant_message(g, vmgroup) for g, vmgroup in found])
