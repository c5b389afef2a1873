"""`vdvs volume ...`: every vmgroup's volumes (vDVS's 13 columns) and their editable settings."""

from __future__ import annotations

from pathlib import Path

import click

from vdvs.cli.common import admin_options, call
from vdvs.cli.output import emit, table
from vdvs.proto import admin_pb2


def _columns(available: list[tuple[str, str]], text: str | None) -> list[tuple[str, str]]:
    """The columns asked for with -c (in the canonical order), or all of them."""
    if not text:
        return available
    ids = [key for key, _ in available]
    wanted = text.split(",")
    bad = [c for c in wanted if c not in ids]
    if bad:
        raise click.BadParameter(f"invalid choices: {', '.join(bad)} (choose from {', '.join(ids)})", param_hint="-c")
    return [(key, header) for key, header in available if key in wanted]


@click.group()
def volume() -> None:
    """Volumes of every vmgroup, as the admin sees them."""


@volume.command("ls")
@click.option("--vmgroup", default="", help="only vmgroups matching this pattern (e.g. 'web*')")
@click.option("-c", "columns", default=None, help="comma-separated column ids, e.g. volume,capacity,created-by")
@admin_options
def ls(vmgroup: str, columns: str | None, admin_socket: Path, as_json: bool) -> None:
    """List volumes (orphans, whose vmgroup is unknown, show as N/A)."""
    reply = call(admin_socket, as_json, "VolumeList", admin_pb2.VolumeListRequest(vmgroup=vmgroup))
    available = [(c.id, c.header) for c in reply.columns]
    chosen = _columns(available, columns)
    rows = _rows(reply)
    keys = [key for key, _ in chosen]
    emit(
        [{k: row[k] for k in keys} for row in rows],
        as_json,
        table([h for _, h in chosen], [[row[k] for k in keys] for row in rows]),
    )


def _rows(reply: admin_pb2.VolumeListResponse) -> list[dict[str, str]]:
    ids = [c.id for c in reply.columns]
    width, cells = len(ids), list(reply.cells)
    return [dict(zip(ids, cells[i : i + width], strict=True)) for i in range(0, len(cells), width)]


@volume.command("set")
@click.option("--volume", "volume_name", required=True, help="volume@datastore")
@click.option("--vmgroup", required=True)
@click.option(
    "--options", required=True, help="access=read-only|read-write,attach-as=persistent|independent_persistent"
)
@admin_options
def set_options(volume_name: str, vmgroup: str, options: str, admin_socket: Path, as_json: bool) -> None:
    """Change a volume's access or attach-as (effective at its next mount)."""
    request = admin_pb2.VolumeSetRequest(volume=volume_name, vmgroup=vmgroup, options=options)
    reply = call(admin_socket, as_json, "VolumeSet", request)
    emit(_rows(reply), as_json, f"Successfully updated settings for {volume_name}")
