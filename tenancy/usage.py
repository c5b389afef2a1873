"""The usage report (`vdvs usage`, Cinder's ``os-quota-sets?usage=true``): what each vmgroup holds on
each datastore against its limits, with totals, or rolled up by a vmgroup label for billing.

Built from the aggregate rows of ``UsageRows.usage_rows`` (one per vmgroup and datastore, a few
hundred at most), never from volume rows. The figures:

- ``volumes`` / ``provisioned_mb``: ready volumes (and those being removed) and the sum of their sizes;
- ``reserved_volumes`` / ``reserved_mb``: creates in flight (rows ``creating``);
- ``volume_limit`` / ``size_limit_mb``: the count and size limits of the access row a VM living on
  that datastore is checked against (``limits_from``); the quotas check provisioned + reserved;
- ``allocated_bytes``: actual (thin) use, measured at create, at detach and by the broker's sweep;
- ``attached``: volumes attached to a VM, idle attachments included; ``idle``: those of them idle.

The broker's ``vdvs_vmgroup_*`` gauges are this report's lines (broker/metrics/gauges.py), and its
per-volume gauges the volumes behind them (``volume_lines``): the figures and the limits that apply
are decided here once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from vdvs.tenancy.counts import show_count_limit
from vdvs.tenancy.datastores import datastore_name
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.sizes import format_admin_size, format_usage_mb, format_used_bytes

NO_LABEL = "(none)"  # the unit of the vmgroups without the label a report rolls up by
TOTAL = "(total)"  # the datastore cell of a unit's total
NA = "N/A"  # a limit that does not apply (a label's roll-up, a total's size)
HEADERS = (
    "Datastore",
    "Volumes",
    "Volume_limit",
    "Provisioned",
    "Size_limit",
    "Reserved",
    "Reserved_size",
    "Allocated",
    "Attached",
    "Idle",
    "Limits_from",
)


@dataclass(frozen=True)
class Figures:
    volumes: int = 0
    volume_limit: int | None = None
    provisioned_mb: int = 0
    size_limit_mb: int | None = None
    reserved_volumes: int = 0
    reserved_mb: int = 0
    allocated_bytes: int = 0
    attached: int = 0
    idle: int = 0

    def plus(self, other: Figures) -> Figures:
        """The amounts of both added; no limit (the sum of two limits limits nothing)."""
        return Figures(
            self.volumes + other.volumes,
            None,
            self.provisioned_mb + other.provisioned_mb,
            None,
            self.reserved_volumes + other.reserved_volumes,
            self.reserved_mb + other.reserved_mb,
            self.allocated_bytes + other.allocated_bytes,
            self.attached + other.attached,
            self.idle + other.idle,
        )


FIGURES = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class Line:
    """One datastore of a unit (or its total, datastore ``(total)``)."""

    datastore: str
    limits_from: str  # the access row's datastore (_VM_DS, _ALL_DS), '' for none or not applicable
    figures: Figures


@dataclass(frozen=True)
class Unit:
    """A vmgroup, or a label value and its vmgroups."""

    name: str
    vmgroups: tuple[str, ...]
    lines: tuple[Line, ...]
    total: Line


@dataclass(frozen=True)
class VolumeLine:
    """One volume a vmgroup's line counts (``[metrics] per_volume``)."""

    vmgroup: str
    datastore: str
    volume: str
    size_mb: int
    allocated_bytes: int
    attached: bool


def _shown(url: str, datastores: Sequence[DatastoreRef]) -> str:
    """A datastore as the report names it; one no longer seen keeps its URL."""
    return datastore_name(url, datastores) or url


def _total(lines: Iterable[Line], volume_limit: int | None) -> Line:
    summed = Figures()
    for line in lines:
        summed = summed.plus(line.figures)
    return Line(TOTAL, "", replace(summed, volume_limit=volume_limit))


def _vmgroup_units(rows: Sequence[Sequence[Any]], datastores: Sequence[DatastoreRef]) -> list[tuple[Unit, Any]]:
    """One unit per vmgroup (rows come ordered by vmgroup name), with the row's label value."""
    units: list[tuple[Unit, Any]] = []
    by_id: dict[str, tuple[str, int | None, Any, list[Line]]] = {}
    for row in rows:
        vmgroup_id, name, max_volumes, url = row[0], row[1], row[2], row[3]
        entry = by_id.setdefault(vmgroup_id, (name, max_volumes, row[14], []))
        if url is None:
            continue  # a vmgroup with no volumes and no access row of a real datastore
        quota_mb, count_limit = row[12], row[13]
        figures = Figures(
            int(row[4]), count_limit, int(row[5]), quota_mb or None, int(row[6]), int(row[7]), int(row[8]),
            int(row[9]), int(row[10]),
        )  # fmt: skip
        limits_from = datastore_name(row[11], datastores) if row[11] else ""
        entry[3].append(Line(_shown(url, datastores), limits_from, figures))
    for name, max_volumes, label, lines in by_id.values():
        ordered = tuple(sorted(lines, key=lambda line: line.datastore))
        units.append((Unit(name, (name,), ordered, _total(ordered, max_volumes)), label))
    return units


def _by_label(units: Sequence[tuple[Unit, Any]]) -> list[Unit]:
    """The vmgroups' units merged by label value (``(none)`` last): amounts summed per datastore."""
    groups: dict[str, list[Unit]] = {}
    for unit, label in units:
        groups.setdefault(NO_LABEL if label is None else str(label), []).append(unit)
    merged = []
    for value in sorted(groups, key=lambda v: (v == NO_LABEL, v)):
        members = groups[value]
        per_datastore: dict[str, Figures] = {}
        for unit in members:
            for line in unit.lines:
                per_datastore[line.datastore] = per_datastore.get(line.datastore, Figures()).plus(line.figures)
        lines = tuple(Line(ds, "", per_datastore[ds]) for ds in sorted(per_datastore))
        merged.append(Unit(value, tuple(u.name for u in members), lines, _total(lines, None)))
    return merged


def report(
    rows: Sequence[Sequence[Any]],
    datastores: Sequence[DatastoreRef],
    pattern: str | None = None,
    by_label: str | None = None,
) -> list[Unit]:
    """The units of the vmgroups whose names match ``pattern`` (fnmatch, as `volume ls`), each
    vmgroup its own, or with ``by_label`` one per value of that label (``(none)``: without it)."""
    units = _vmgroup_units(rows, datastores)
    if pattern is not None:
        units = [(unit, label) for unit, label in units if fnmatch.fnmatchcase(unit.name, pattern)]
    return _by_label(units) if by_label else [unit for unit, _ in units]


def volume_lines(
    rows: Sequence[Sequence[Any]], volumes: Sequence[Sequence[Any]], datastores: Sequence[DatastoreRef]
) -> list[VolumeLine]:
    """The volumes of ``UsageRows.volume_usage_rows``, named as the report built from ``rows`` names
    vmgroups and datastores (a volume of a vmgroup not in ``rows``, removed meanwhile, is left out)."""
    names = {row[0]: row[1] for row in rows}
    return [
        VolumeLine(names[gid], _shown(url, datastores), name, size_mb, allocated, attached)
        for gid, url, name, size_mb, allocated, attached in volumes
        if gid in names
    ]


def headers(by_label: str | None) -> list[str]:
    """The table's headers: the unit (VMGroup, or the label key), the figures, and in a roll-up the
    vmgroups each value holds."""
    return [by_label or "VMGroup", *HEADERS, *(["VMGroups"] if by_label else [])]


def cells(unit: Unit, line: Line, by_label: str | None) -> list[str]:
    """A table row as shown: sizes as the admin tables show them, limits ``Unset`` when there are
    none, ``N/A`` where none can apply (a roll-up's limits, a total's size limit)."""
    f = line.figures
    total = line.datastore == TOTAL
    volume_limit = NA if by_label else show_count_limit(f.volume_limit)
    size_limit = NA if by_label or total else format_admin_size(f.size_limit_mb or 0)
    row = [
        unit.name,
        line.datastore,
        str(f.volumes),
        volume_limit,
        format_usage_mb(f.provisioned_mb),
        size_limit,
        str(f.reserved_volumes),
        format_usage_mb(f.reserved_mb),
        format_used_bytes(f.allocated_bytes),
        str(f.attached),
        str(f.idle),
        line.limits_from,
    ]
    if by_label:
        row.append(",".join(unit.vmgroups) if total else "")
    return row


def sample_day(now: datetime | None = None) -> str:
    """The day a usage sample is filed under: the UTC date, YYYY-MM-DD."""
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()
