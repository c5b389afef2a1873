"""`vdvs events`: what an operator is warned about, per vmgroup (thresholds crossed, power-offs,
takeovers, repairs, revoked certificates used, quota refusals); `--follow` streams new ones."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import AdminClient, AdminError, Target
from vdvs.cli.common import admin_options, call, fail, to_dict
from vdvs.cli.output import emit, table

if TYPE_CHECKING:
    from vdvs.proto import admin_pb2

HEADERS = ["Time", "Vmgroup", "Action", "Outcome", "Initiator", "Target", "Reason"]


def _cells(r: admin_pb2.AuditRecord) -> list[str]:
    return [
        r.time,
        r.vmgroup,
        r.action,
        r.outcome,
        r.initiator_name or r.initiator,
        r.target,
        " ".join(r.reason.split()),
    ]


@click.command()
@click.option("--vmgroup", default="", help="only this vmgroup's events")
@click.option("--since", default="", help="only the last 90s, 15m, 1h, 7d...")
@click.option("--limit", type=int, default=0, help="the newest N events (default 100)")
@click.option("--follow", is_flag=True, help="then print each new event as it happens, until interrupted")
@admin_options
def events(vmgroup: str, since: str, limit: int, follow: bool, target: Target, as_json: bool) -> None:
    """Events per vmgroup: quota thresholds crossed, power-offs, takeovers, repairs, refusals (--follow).

    The events of the vmgroups you see, oldest first; --follow then prints each new one as it
    happens (with --json, one JSON object a line) until interrupted."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.EventListRequest(vmgroup=vmgroup, since=since, limit=limit)
    if follow:
        _follow(target, as_json, request)
        return
    reply = call(target, as_json, "EventList", request)
    if as_json:
        emit([to_dict(r) for r in reply.events], True, "")
        return
    emit(None, False, table(HEADERS, [_cells(r) for r in reply.events]))


def _follow(target: Target, as_json: bool, request: admin_pb2.EventListRequest) -> None:
    """One line per event, flushed at once (a pipe reader sees each as it comes); Ctrl-C ends it."""
    try:
        with AdminClient(target) as client:
            for record in client.stream("EventFollow", request):
                line = json.dumps(to_dict(record)) if as_json else "  ".join(_cells(record))
                click.echo(line)
                sys.stdout.flush()
    except AdminError as exc:
        fail(exc, as_json)
    except KeyboardInterrupt:
        return
