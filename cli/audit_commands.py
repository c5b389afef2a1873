"""`vdvs audit ls`: the audit trail of admin changes and volume operations (CADF fields)."""

from __future__ import annotations

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table

HEADERS = ["Time", "Request", "Initiator", "Role", "Vmgroup", "Action", "Target", "Outcome", "Reason"]


@click.group()
def audit() -> None:
    """The audit trail: every admin change and volume operation, refusals included."""


@audit.command("ls")
@click.option("--vmgroup", default="", help="only records about this vmgroup")
@click.option("--principal", default="", help="only this initiator (admin:NAME, root, a VM's name or uuid)")
@click.option("--since", default="", help="only the last 90s, 15m, 1h, 7d...")
@click.option("--action", default="", help="only this action (volume.create), or a prefix (volume.*)")
@click.option("--limit", type=int, default=0, help="the newest N records (default 1000)")
@admin_options
def ls(vmgroup: str, principal: str, since: str, action: str, limit: int, target: Target, as_json: bool) -> None:
    """List audit records, oldest first (a vmgroup admin: those of its vmgroups)."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.AuditListRequest(vmgroup=vmgroup, principal=principal, since=since, action=action, limit=limit)
    reply = call(target, as_json, "AuditList", request)
    if as_json:
        emit([to_dict(r) for r in reply.records], True, "")
        return
    rows = [
        [
            r.time,
            r.request_id[:8],
            r.initiator_name or r.initiator,
            r.role,
            r.vmgroup,
            r.action,
            r.target,
            r.outcome,
            " ".join(r.reason.split()),
        ]
        for r in reply.records
    ]
    emit(None, False, table(HEADERS, rows))
