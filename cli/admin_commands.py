"""`vdvs admin ...`: admin principals (their certificates) and the roles granted to principals."""

from __future__ import annotations

from pathlib import Path

import click

from vdvs.cli.admin_client import ADMIN_CERT_FILE, ADMIN_KEY_FILE, Target
from vdvs.cli.common import admin_options, call, fail, to_dict
from vdvs.cli.output import emit, table

ROLES = ("platform-admin", "vmgroup-admin", "vmgroup-viewer", "vmgroup-creator")


@click.group()
def admin() -> None:
    """Admins (certificates of their own) and the roles granted to principals on vmgroups."""


@admin.command("enroll")
@click.argument("name")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="directory for ca.pem, admin.pem, admin.key"
)
@click.option("--days", type=int, default=0, help="certificate lifetime (default 365)")
@admin_options
def enroll(name: str, out: Path, days: int, target: Target, as_json: bool) -> None:
    """Issue admin NAME a client certificate (principal admin:NAME) and write its bundle to --out."""
    from vdvs.plugin.bundle import Bundle, write_bundle
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "AdminEnroll", admin_pb2.AdminEnrollRequest(name=name, valid_days=days))
    try:
        write_bundle(
            out,
            Bundle(reply.ca_pem.encode(), reply.cert_pem.encode(), reply.key_pem.encode()),
            ADMIN_CERT_FILE,
            ADMIN_KEY_FILE,
        )
    except OSError as exc:
        fail(exc, as_json)
    data = {"admin": name, "principal": reply.principal, "id": reply.id, "serial": reply.serial}
    data |= {"not_after": reply.not_after, "bundle": str(out)}
    text = (
        f"Enrolled admin {name} (principal {reply.principal}): certificate {reply.serial} valid until "
        f"{reply.not_after}, bundle in {out}"
    )
    emit(data, as_json, text)


@admin.command("revoke")
@click.argument("name")
@admin_options
def revoke(name: str, target: Target, as_json: bool) -> None:
    """Revoke every certificate of admin NAME; the broker refuses them from their next call on."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "AdminRevoke", admin_pb2.AdminRef(name=name))
    serials = list(reply.serials)
    text = f"Revoked {len(serials)} certificate(s) of admin {name}: {', '.join(serials) or '-'}"
    emit({"revoked": serials}, as_json, text)


@admin.command("ls")
@admin_options
def ls(target: Target, as_json: bool) -> None:
    """List admins and their certificates."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "AdminList", admin_pb2.AdminListRequest())
    rows = [[a.name, a.kind, ",".join(a.principals), a.serial, a.not_after, a.status] for a in reply.admins]
    emit(
        [to_dict(a) for a in reply.admins],
        as_json,
        table(["Name", "Kind", "Principals", "Serial", "Not_after", "Status"], rows),
    )


def _scope(vmgroup: str, selector: str) -> str:
    return f" on vmgroup {vmgroup}" if vmgroup else f" on selector {selector}" if selector else ""


def _grant_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--selector", default="", metavar="K=V[,K=V]", help="every vmgroup whose labels match")(fn)
    fn = click.option("--vmgroup", default="", help="one vmgroup")(fn)
    fn = click.option("--role", required=True, type=click.Choice(ROLES), help="the role")(fn)
    return click.option("--principal", required=True, help="admin:NAME, ldap-user:DN or ldap-group:DN")(fn)


@admin.command("grant")
@_grant_options
@admin_options
def grant(principal: str, role: str, vmgroup: str, selector: str, target: Target, as_json: bool) -> None:
    """Grant a principal a role: on a vmgroup, on the vmgroups a selector picks, or (platform-admin) everywhere."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.GrantRequest(principal=principal, role=role, vmgroup=vmgroup, selector=selector)
    reply = call(target, as_json, "GrantAdd", request)
    emit(to_dict(reply), as_json, f"Granted {reply.role}{_scope(reply.vmgroup, reply.selector)} to {reply.principal}")


@admin.command("ungrant")
@_grant_options
@admin_options
def ungrant(principal: str, role: str, vmgroup: str, selector: str, target: Target, as_json: bool) -> None:
    """Remove a grant (the same options it was given with); it stops at the principal's next call."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.GrantRequest(principal=principal, role=role, vmgroup=vmgroup, selector=selector)
    reply = call(target, as_json, "GrantRemove", request)
    text = f"Removed grant {reply.role}{_scope(reply.vmgroup, reply.selector)} from {reply.principal}"
    emit(to_dict(reply), as_json, text)


@admin.command("grants")
@click.option("--principal", default="", help="only this principal's grants")
@admin_options
def grants(principal: str, target: Target, as_json: bool) -> None:
    """List grants (a delegated admin sees its own)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "GrantList", admin_pb2.GrantListRequest(principal=principal))
    rows = [[g.principal, g.role, g.vmgroup, g.selector, g.created] for g in reply.grants]
    emit(
        [to_dict(g) for g in reply.grants],
        as_json,
        table(["Principal", "Role", "Vmgroup", "Selector", "Created"], rows),
    )
