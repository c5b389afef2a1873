"""AdminService handlers: `vdvs events` (EventList) and `vdvs events --follow` (EventFollow, server streaming).

Events are audit records of kind ``event`` (``tenancy.events``), read on the admin-read thread. A
follower gets the newest ``limit`` first, then polls the store every ``FOLLOW_POLL_S`` for rows
with a higher id: every broker sharing the store writes there, so another broker's events reach
it too, within its writer's flush (0.5 s) and this poll. The stream ends when the client cancels
(gRPC cancels the handler's task) or when the broker stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.admin_views import audit_message
from vdvs.broker.grpc_errors import abort, rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.audit import AuditRecord, parse_since
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.events import DEFAULT_LIMIT, MAX_LIMIT, EventQuery
from vdvs.tenancy.roles import AdminAccess, Role
from vdvs.tenancy.store import ConfigStore

FOLLOW_POLL_S = 0.5


def event_query(reader: ConfigStore, caller: AdminAccess, request: admin_pb2.EventListRequest) -> EventQuery:
    """The events a caller may read: a delegated admin's or viewer's, of the vmgroups it sees."""
    ids = caller.visible_ids(Role.VMGROUP_VIEWER)
    if request.vmgroup:
        vmgroup = reader.get_vmgroup_by_name(request.vmgroup)
        if vmgroup is None:  # the guard let only a platform admin ask about a vmgroup that is gone
            raise VdvsError(Err.TENANT_NOT_EXIST, request.vmgroup)
        ids = {vmgroup.id}
    limit = request.limit or DEFAULT_LIMIT
    if not 0 < limit <= MAX_LIMIT:
        raise VdvsError(Err.EVENT_LIMIT_INVALID, request.limit, MAX_LIMIT)
    since = time.time() - parse_since(request.since) if request.since else 0.0
    return EventQuery(None if ids is None else frozenset(ids), 0, since, limit)


def _events(reader: ConfigStore, query: EventQuery) -> list[AuditRecord]:
    return reader.list_events(query)


def _last_id(reader: ConfigStore) -> int:
    return reader.last_audit_id()


class EventHandlers(AdminHandlers):
    @rpc
    async def EventList(self, request: admin_pb2.EventListRequest, context: Context) -> admin_pb2.EventListResponse:
        await self.ctx.audit.flush()  # what this broker recorded is in the store before it is read
        query = await self.read(event_query, self.caller().access, request)
        records = await self.read(_events, query)
        return admin_pb2.EventListResponse(events=[audit_message(r) for r in records])

    async def EventFollow(  # type: ignore[override]  # an async generator, as grpc.aio serves streams
        self, request: admin_pb2.EventListRequest, context: Context
    ) -> AsyncIterator[admin_pb2.AuditRecord]:
        try:
            await self.ctx.audit.flush()
            query = await self.read(event_query, self.caller().access, request)
            records = await self.read(_events, query)
            last = records[-1].id if records else await self.read(_last_id)
        except VdvsError as exc:
            await abort(context, exc)
            return
        query = replace(query, since=0.0, limit=MAX_LIMIT)
        while True:
            for record in records:
                yield audit_message(record)
                last = max(last, record.id)
            await asyncio.sleep(FOLLOW_POLL_S)
            records = await self.read(_events, replace(query, after_id=last))
