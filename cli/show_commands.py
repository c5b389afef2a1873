"""`vdvs show permissions`: who may do what, where (Sveltos' `show admin-rbac`)."""

from __future__ import annotations

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table
from vdvs.cli.policy_commands import POLICY_COLUMNS, policy_cells

HEADERS = [
    "Subject",
    "Kind",
    "Vmgroup",
    "Datastore",
    "Verbs",
    "Max_volume_size",
    "Total_size",
    "Used",
    "Source",
]


@click.group()
def show() -> None:
    """Effective views: the permissions every VM and principal holds."""


@show.command("permissions")
@click.option("--vm", default="", help="one VM (name or BIOS uuid)")
@click.option("--vmgroup", default="", help="the VMs and principals of one vmgroup")
@click.option("--principal", default="", help="one principal (admin:NAME, ldap-user:DN, ldap-group:DN)")
@admin_options
def permissions(vm: str, vmgroup: str, principal: str, target: Target, as_json: bool) -> None:
    """One row per (subject, vmgroup, datastore): verbs, limits, use, and where the right comes from."""
    from vdvs.proto import admin_pb2

    reply = call(
        target, as_json, "PermissionsShow", admin_pb2.PermissionsRequest(vm=vm, vmgroup=vmgroup, principal=principal)
    )
    if as_json:
        emit([to_dict(r) for r in reply.rows], True, "")
        return
    rows = [
        [
            r.subject,
            r.subject_kind,
            r.vmgroup,
            r.datastore,
            ",".join(r.verbs),
            r.max_volume_size,
            r.total,
            r.used,
            r.source,
        ]
        for r in reply.rows
    ]
    if any(r.storage_policy or r.allowed_policies for r in reply.rows):  # the policy columns when there are some
        rows = [
            row + policy_cells(r.storage_policy, r.allowed_policies) for row, r in zip(rows, reply.rows, strict=True)
        ]
        emit(None, False, table(HEADERS + POLICY_COLUMNS, rows))
        return
    emit(None, False, table(HEADERS, rows))
