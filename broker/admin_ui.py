"""AdminService handler: `vdvs ui link`, a one-time sign-in link to the dashboard (broker/ui/).

Anyone the guard lets in may ask for a link for itself; a link for another admin is a platform
admin's to ask. The link names an admin certificate (its newest live one), so the dashboard checks
it as it would a presented one, on every page.
"""

from __future__ import annotations

import datetime as dt
import time

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.admin_guard import Caller
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.ui.auth import MAX_LINK_MINUTES, Subject
from vdvs.proto import admin_pb2
from vdvs.tenancy.admins import ROOT
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.store import ConfigStore

DEFAULT_LINK_MINUTES = 10


def link_subject(reader: ConfigStore, caller: Caller, admin: str) -> tuple[Subject, str]:
    """(the certificate a link signs in, its admin's name): the caller's own, or the named admin's newest
    live one (a platform admin only)."""
    if not admin:
        if caller.initiator == ROOT:
            return Subject(ROOT), ROOT
        own = next((r for r in reader.list_admins() if r.id == caller.initiator), None)
        if own is None:
            raise VdvsError(Err.ADMIN_NO_IDENTITY)
        return Subject(own.id, own.serial), own.name
    own_name = next((r.name for r in reader.list_admins() if r.id == caller.initiator), None)
    if not caller.access.platform and admin != own_name:
        raise VdvsError(Err.NO_PLATFORM_GRANT, caller.principal)
    live = [r for r in reader.admins_named(admin) if not r.revoked]
    if not live:
        raise VdvsError(Err.ADMIN_NOT_FOUND, admin)
    return Subject(live[-1].id, live[-1].serial), admin


class UiHandlers(AdminHandlers):
    @rpc
    async def UiLink(self, request: admin_pb2.UiLinkRequest, context: Context) -> admin_pb2.UiLinkResponse:
        ui = self.ctx.ui
        if ui is None:
            raise VdvsError(Err.BACKEND_UNAVAILABLE, "the dashboard is off: set [ui] listen in the broker's config")
        minutes = request.minutes or DEFAULT_LINK_MINUTES
        if not 0 < minutes <= MAX_LINK_MINUTES:
            raise VdvsError(Err.INVALID_ARGUMENT, f"--minutes {minutes}: give 1 to {MAX_LINK_MINUTES}")
        subject, name = await self.read(link_subject, self.caller(), request.admin.strip())
        token, expires = ui.links.issue(subject, minutes, time.time())
        return admin_pb2.UiLinkResponse(
            url=ui.url(token),
            admin=name,
            expires=dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(timespec="seconds"),
        )
