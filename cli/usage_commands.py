"""`vdvs usage`: what each vmgroup holds per datastore against its limits (Cinder's ``?usage=true``).

The broker builds the report and the table's cells; this prints them as a table, as JSON (numbers,
for scripts and dashboards) or as CSV (for billing).
"""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call
from vdvs.cli.output import emit, table

if TYPE_CHECKING:
    from vdvs.proto import admin_pb2

FIGURES = (
    "volumes",
    "volume_limit",
    "provisioned_mb",
    "size_limit_mb",
    "reserved_volumes",
    "reserved_mb",
    "allocated_bytes",
    "attached",
    "idle",
)
LIMITS = ("volume_limit", "size_limit_mb")  # optional: absent is no limit


def _figures(figures: admin_pb2.UsageFigures) -> dict[str, int | None]:
    """The figures as numbers; a limit that is not set is None (no limit)."""
    return {name: None if name in LIMITS and not figures.HasField(name) else getattr(figures, name) for name in FIGURES}


def _line(line: admin_pb2.UsageLine) -> dict[str, Any]:
    return {"datastore": line.datastore, "limits_from": line.limits_from, **_figures(line.figures)}


def _as_json(reply: admin_pb2.UsageResponse) -> list[dict[str, Any]]:
    units = []
    for unit in reply.units:
        head: dict[str, Any] = (
            {"label": reply.by_label, "value": unit.name, "vmgroups": list(unit.vmgroups)}
            if reply.by_label
            else {"vmgroup": unit.name}
        )
        units.append(
            {**head, "datastores": [_line(line) for line in unit.datastores], "total": _figures(unit.total.figures)}
        )
    return units


def _write_csv(reply: admin_pb2.UsageResponse) -> None:
    """One row per datastore of each unit, then the unit's total (datastore ``(total)``); a limit
    that is not set is an empty cell."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    extra = ["vmgroups"] if reply.by_label else []
    writer.writerow([reply.by_label or "vmgroup", "datastore", "limits_from", *FIGURES, *extra])
    for unit in reply.units:
        for line in (*unit.datastores, unit.total):
            figures = _figures(line.figures)
            values = ["" if figures[name] is None else figures[name] for name in FIGURES]
            members = [",".join(unit.vmgroups)] if reply.by_label else []
            writer.writerow([unit.name, line.datastore, line.limits_from, *values, *members])


@click.command("usage")
@click.option("--vmgroup", default="", help="only vmgroups matching this pattern (e.g. 'web*')")
@click.option("--by-label", default="", help="roll vmgroups up by this label's value, e.g. cost-center")
@click.option("--csv", "as_csv", is_flag=True, help="comma-separated values, one row per datastore and total")
@admin_options
def usage(vmgroup: str, by_label: str, as_csv: bool, target: Target, as_json: bool) -> None:
    """Volumes, space and attachments of each vmgroup per datastore, against its limits.

    Volumes/Provisioned: ready volumes and their sizes. Reserved: creates in flight. The quotas
    check provisioned + reserved against the limits. Allocated: actual (thin) use, measured at
    create, at detach and every [broker] usage_refresh_s by the broker. Attached counts idle
    attachments too; Idle says how many of them are idle.
    """
    from vdvs.proto import admin_pb2

    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together")
    reply = call(target, as_json, "Usage", admin_pb2.UsageRequest(vmgroup=vmgroup, by_label=by_label))
    if as_csv:
        _write_csv(reply)
        return
    rows = [list(line.cells) for unit in reply.units for line in (*unit.datastores, unit.total)]
    emit(_as_json(reply), as_json, table(list(reply.headers), rows))
