"""`vdvs vm token create|ls|rm`: join tokens, which Docker VMs trade for their certificates
(`vdvs plugin join`) instead of a bundle copied in."""

from __future__ import annotations

from typing import Any

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table

COLUMNS = ["ID", "Vmgroup", "Uses", "Used", "Expires", "Created", "Created By"]


def _row(e: Any) -> list[str]:
    return [e.id, e.vmgroup, str(e.uses), str(e.used), e.expires, e.created, e.created_by]


@click.group()
def token() -> None:
    """Join tokens: a VM joins a vmgroup with one and gets its certificate (`vdvs plugin join`)."""


@token.command("create")
@click.option("--vmgroup", required=True, help="the vmgroup joining VMs become members of")
@click.option("--uses", type=int, default=1, show_default=True, help="how many VMs may join with it")
@click.option("--ttl", default="1h", show_default=True, help="how long it works: 90s, 15m, 1h, 7d (at most 30d)")
@admin_options
def token_create(vmgroup: str, uses: int, ttl: str, target: Target, as_json: bool) -> None:
    """Make a join token for VMs of a vmgroup; its secret is shown this once."""
    from vdvs.proto import admin_pb2

    reply = call(
        target, as_json, "JoinTokenCreate", admin_pb2.JoinTokenCreateRequest(vmgroup=vmgroup, uses=uses, ttl=ttl)
    )
    broker = reply.join_listen or "BROKER:PORT"
    command = f"vdvs plugin join --broker {broker} --token {reply.token} --ca-sha256 {reply.ca_sha256}"
    text = "\n".join(
        [
            f"Join token {reply.entry.id} for vmgroup {reply.entry.vmgroup}: {reply.entry.uses} use(s), "
            f"until {reply.entry.expires}",
            f"Token: {reply.token}",
            f"CA SHA-256: {reply.ca_sha256}",
            "In each VM, as root:",
            f"  {command} --out /etc/vdvs/bundle",
        ]
    )
    emit({**to_dict(reply), "command": command}, as_json, text)


@token.command("ls")
@admin_options
def token_ls(target: Target, as_json: bool) -> None:
    """List the join tokens of the vmgroups you administer (never their secrets)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "JoinTokenList", admin_pb2.JoinTokenListRequest())
    emit(to_dict(reply).get("tokens", []), as_json, table(COLUMNS, [_row(t) for t in reply.tokens]))


@token.command("rm")
@click.argument("token_id")
@admin_options
def token_rm(token_id: str, target: Target, as_json: bool) -> None:
    """Revoke a join token (by its ID): no VM can join with it any more."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "JoinTokenRemove", admin_pb2.JoinTokenRef(id=token_id))
    emit(to_dict(reply), as_json, f"Removed join token {reply.id} of vmgroup {reply.vmgroup} ({reply.used} used)")
