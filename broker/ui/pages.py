"""What each dashboard page shows, read on the admin-read thread (its own store connection).

The figures are the usage report's (``admin_usage.usage_units``, the code behind `vdvs usage`) and
its cells as the CLI prints them; the volumes are `volume ls`'s rows; the events are the audit
trail's. Every page shows only the vmgroups the viewer's grants cover: another vmgroup's page is
not found, the same as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from vdvs.broker.admin_usage import usage_units
from vdvs.tenancy import alerts, usage
from vdvs.tenancy.audit import AuditQuery, AuditRecord
from vdvs.tenancy.datastores import datastore_name
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup, VmRecord
from vdvs.tenancy.roles import AdminAccess, Role
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.volume_admin import COLUMNS, list_volume_rows

from .trend import Trend, first_day, trend

EVENTS = 50  # the newest audit records of a vmgroup its page shows


@dataclass(frozen=True)
class Bar:
    """One usage bar: what is used of a limit."""

    what: str  # "size local1", "volumes local1", "volumes (total)"
    used: str
    limit: str
    percent: float | None
    state: str

    @property
    def width(self) -> float:
        return min(100.0, self.percent or 0.0)


@dataclass(frozen=True)
class Line:
    """A datastore line (or the total) of a vmgroup: its figures, the CLI's cells, bars and state."""

    figures: usage.Figures
    cells: dict[str, str]  # by the `vdvs usage` header
    bars: list[Bar]
    state: str
    privilege: Privilege | None = None  # the access row of that datastore, on the vmgroup's page
    alert_at: int = alerts.DEFAULT_ALERT_AT


@dataclass(frozen=True)
class GroupRow:
    name: str
    description: str
    members: int
    total: Line
    lines: list[Line]
    state: str


def _line(unit: usage.Unit, line: usage.Line, privilege: Privilege | None = None) -> Line:
    cells = dict(zip(usage.headers(None), usage.cells(unit, line, None), strict=True))
    f = line.figures
    bars = []
    where = line.datastore
    if f.size_limit_mb is not None:
        used = cells["Provisioned"]
        bars.append(Bar(f"size {where}", used, cells["Size_limit"], alerts.size_percent(f), ""))
    if f.volume_limit is not None:
        used = str(f.volumes + f.reserved_volumes)
        bars.append(Bar(f"volumes {where}", used, cells["Volume_limit"], alerts.count_percent(f), ""))
    alert_at = privilege.alert_at if privilege is not None and privilege.alert_at is not None else None
    bars = [Bar(b.what, b.used, b.limit, b.percent, alerts.state([b.percent], alert_at)) for b in bars]
    state = alerts.state((b.percent for b in bars), alert_at)
    return Line(f, cells, bars, state, privilege, alerts.DEFAULT_ALERT_AT if alert_at is None else alert_at)


def _visible_groups(reader: ConfigStore, access: AdminAccess) -> dict[str, VmGroup]:
    return {g.name: g for g in reader.list_vmgroups() if access.sees(g.id)}


def vmgroups_page(reader: ConfigStore, refs: list[DatastoreRef], access: AdminAccess) -> dict[str, Any]:
    """Each vmgroup the viewer sees: members, volumes, usage bars against its limits, alert state."""
    groups = _visible_groups(reader, access)
    members = reader.memberships()
    privileges = reader.all_privileges()  # vmgroup id -> datastore URL -> row: each line's threshold
    rows = []
    for unit in usage_units(reader, refs, None, None, access.visible_ids()):
        group = groups.get(unit.name)
        if group is None:
            continue
        own = list(privileges.get(group.id, {}).values())
        lines = [_line(unit, line, _privilege_for(line, own, refs)) for line in unit.lines]
        total = _line(unit, unit.total)
        state = alerts.worst([total.state, *(line.state for line in lines)])
        rows.append(GroupRow(unit.name, group.description, len(members.get(group.id, [])), total, lines, state))
    return {"rows": rows}


@dataclass
class GroupPage:
    """The data of one vmgroup's page; ``members`` get their power state from the backend afterwards."""

    group: VmGroup
    labels: dict[str, str]
    total: Line
    lines: list[Line]
    state: str
    members: list[VmRecord]
    attached: dict[str, list[str]]  # VM uuid -> names of the volumes attached to it
    volume_headers: list[str]
    volumes: list[tuple[str, ...]]
    events: list[AuditRecord] | None  # None: the viewer may not read them (vmgroup-admin only, as `audit ls`)
    trend: Trend
    power: dict[str, str] = field(default_factory=dict)


def _privilege_for(line: usage.Line, privileges: list[Privilege], refs: list[DatastoreRef]) -> Privilege | None:
    """The access row a datastore's limits come from (``limits_from``)."""
    wanted = line.limits_from or line.datastore
    return next((p for p in privileges if datastore_name(p.datastore_url, refs) == wanted), None)


def vmgroup_page(
    reader: ConfigStore,
    refs: list[DatastoreRef],
    kinds: dict[str, str],
    access: AdminAccess,
    name: str,
    today: dt.date,
) -> GroupPage | None:
    """One vmgroup's page, or None when the viewer does not see a vmgroup of that name."""
    group = reader.get_vmgroup_by_name(name)
    if group is None or not access.sees(group.id):
        return None
    units = usage_units(reader, refs, None, None, {group.id})
    unit = units[0]
    privileges = reader.privileges(group.id)
    lines = [_line(unit, line, _privilege_for(line, privileges, refs)) for line in unit.lines]
    total = _line(unit, unit.total)
    attached: dict[str, list[str]] = {}
    for volume in reader.list_volumes(group.id):
        if volume.attached_vm:
            attached.setdefault(volume.attached_vm, []).append(
                f"{volume.name}@{datastore_name(volume.datastore_url, refs)}"
            )
    listing = list_volume_rows(reader, refs, kinds, None, {group.id})
    events = None
    if access.sees(group.id, Role.VMGROUP_ADMIN):
        events = list(reversed(reader.list_audit(AuditQuery(vmgroup_ids=frozenset({group.id}), limit=EVENTS))))
    return GroupPage(
        group=group,
        labels=reader.labels_of(group.id),
        total=total,
        lines=lines,
        state=alerts.worst([total.state, *(line.state for line in lines)]),
        members=reader.vms_of(group.id),
        attached=attached,
        volume_headers=[header for _, header in COLUMNS],
        volumes=listing.rows(),
        events=events,
        trend=trend(reader.usage_samples(first_day(today)), group.id, today),
    )


def access_text(privilege: Privilege | None) -> dict[str, str]:
    """An access row as `vmgroup access ls` shows it (empty cells when the datastore has none)."""
    if privilege is None:
        return {"allow_create": "", "max_volume_size": "", "total_size": ""}
    return {
        "allow_create": "True" if privilege.allow_create else "False",
        "max_volume_size": format_admin_size(privilege.max_volume_size_mb),
        "total_size": format_admin_size(privilege.usage_quota_mb),
    }
