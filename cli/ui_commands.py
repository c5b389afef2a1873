"""`vdvs ui link`: a one-time link that signs a browser in to the broker's dashboard ([ui] listen)."""

from __future__ import annotations

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call
from vdvs.cli.output import emit


@click.group()
def ui() -> None:
    """The web dashboard: sign in with your admin certificate, or a one-time link."""


@ui.command("link")
@click.option("--admin", "admin", default="", help="sign in as this admin (platform admins only; default: you)")
@click.option("--minutes", type=int, default=0, help="how long the link works (default 10, at most 1440)")
@admin_options
def link(admin: str, minutes: int, target: Target, as_json: bool) -> None:
    """Print a link that signs one browser in to the dashboard, once, within a few minutes."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "UiLink", admin_pb2.UiLinkRequest(admin=admin, minutes=minutes))
    emit({"url": reply.url, "admin": reply.admin, "expires": reply.expires}, as_json, reply.url)
