"""AdminService handler: the usage report (`vdvs usage`), read on the admin-read thread.

One GROUP BY over the volume rows (``UsageRows.usage_rows``) on the admin reader connection, shaped
by ``tenancy.usage``: a VM's call never waits behind it, and no disk is asked (allocated space is
what create, detach and the sweep last measured).
"""

from __future__ import annotations

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import usage
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.store import ConfigStore


def _line(unit: usage.Unit, line: usage.Line, by_label: str | None) -> admin_pb2.UsageLine:
    return admin_pb2.UsageLine(
        datastore=line.datastore,
        limits_from=line.limits_from,
        figures=admin_pb2.UsageFigures(**{name: getattr(line.figures, name) for name in usage.FIGURES}),
        cells=usage.cells(unit, line, by_label),
    )


def usage_units(
    reader: ConfigStore,
    datastores: list[DatastoreRef],
    pattern: str | None,
    by_label: str | None,
    visible: set[str] | None = None,
) -> list[usage.Unit]:
    """The report's units as the caller may see them (``visible``: None for all): `vdvs usage` and the
    dashboard both show these."""
    rows = reader.usage_rows(by_label)
    if visible is not None:
        rows = [row for row in rows if row[0] in visible]
    return usage.report(rows, datastores, pattern, by_label)


def usage_reply(
    reader: ConfigStore,
    datastores: list[DatastoreRef],
    pattern: str | None,
    by_label: str | None,
    visible: set[str] | None = None,
) -> admin_pb2.UsageResponse:
    """``visible``: the vmgroup ids the caller sees (None: every one, a platform admin)."""
    units = usage_units(reader, datastores, pattern, by_label, visible)
    return admin_pb2.UsageResponse(
        by_label=by_label or "",
        headers=usage.headers(by_label),
        units=[
            admin_pb2.UsageUnit(
                name=unit.name,
                vmgroups=unit.vmgroups,
                datastores=[_line(unit, line, by_label) for line in unit.lines],
                total=_line(unit, unit.total, by_label),
            )
            for unit in units
        ],
    )


class UsageHandlers(AdminHandlers):
    @rpc
    async def Usage(self, request: admin_pb2.UsageRequest, context: Context) -> admin_pb2.UsageResponse:
        datastores = await self.ctx.inventory.refs()
        visible = self.caller().access.visible_ids()
        return await self.read(usage_reply, datastores, request.vmgroup or None, request.by_label or None, visible)
