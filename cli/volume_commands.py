"""`vdvs volume ...`: every vmgroup's volumes (vDVS's 13 columns) and their editable settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import column_table, emit

if TYPE_CHECKING:
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
def ls(vmgroup: str, columns: str | None, target: Target, as_json: bool) -> None:
    """List volumes (orphans, whose vmgroup is unknown, show as N/A)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VolumeList", admin_pb2.VolumeListRequest(vmgroup=vmgroup))
    chosen = _columns([(c.id, c.header) for c in reply.columns], columns)
    cells = _cells(reply)
    keys = [key for key, _ in chosen]
    if as_json:
        emit([dict(zip(keys, row, strict=True)) for row in zip(*(cells[key] for key in keys), strict=True)], True, "")
    else:
        emit(None, False, column_table([header for _, header in chosen], [cells[key] for key in keys]))


def _cells(reply: admin_pb2.VolumeListResponse) -> dict[str, list[str]]:
    """Each column's cells, decoded (see admin.proto: row i of a column is values[index[i]], or
    values[i] if the column has no index)."""
    return {c.id: list(map(list(c.values).__getitem__, c.index)) if c.index else list(c.values) for c in reply.columns}


def _rows(reply: admin_pb2.VolumeListResponse) -> list[dict[str, str]]:
    cells = _cells(reply)
    return [dict(zip(cells, row, strict=True)) for row in zip(*cells.values(), strict=True)]


@volume.command("set")
@click.option("--volume", "volume_name", required=True, help="volume@datastore")
@click.option("--vmgroup", required=True)
@click.option(
    "--options", required=True, help="access=read-only|read-write,attach-as=persistent|independent_persistent"
)
@admin_options
def set_options(volume_name: str, vmgroup: str, options: str, target: Target, as_json: bool) -> None:
    """Change a volume's access or attach-as (effective at its next mount)."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VolumeSetRequest(volume=volume_name, vmgroup=vmgroup, options=options)
    reply = call(target, as_json, "VolumeSet", request)
    emit(_rows(reply), as_json, f"Successfully updated settings for {volume_name}")


@volume.command("detach")
@click.option("--volume", "volume_name", required=True, help="volume@datastore")
@click.option("--vmgroup", default="_DEFAULT", show_default=True, help="the volume's vmgroup")
@click.option("--force", is_flag=True, help="detach although the VM holding it is powered on")
@admin_options
def detach(volume_name: str, vmgroup: str, force: bool, target: Target, as_json: bool) -> None:
    """Take a volume off the VM holding it: a VM gone from the inventory, or a hung one.

    Refused without --force while that VM is powered on: it may be writing to the disk."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VolumeDetachRequest(volume=volume_name, vmgroup=vmgroup, force=force)
    reply = call(target, as_json, "VolumeDetach", request)
    emit(
        to_dict(reply),
        as_json,
        f"Detached {reply.volume} from VM {reply.vm_name} ({reply.bios_uuid}, {reply.power_state})",
    )


def _add_extend() -> None:
    """`volume extend` lives in its own module (issue 14)."""
    from vdvs.cli.extend_commands import extend

    volume.add_command(extend)


_add_extend()


@volume.command("move")
@click.option("--volume", "volume_name", required=True, help="volume@datastore: the volume to move")
@click.option("--to", "to", required=True, help="the datastore to move it to")
@click.option("--vmgroup", default="_DEFAULT", show_default=True, help="the volume's vmgroup")
@admin_options
def move(volume_name: str, to: str, vmgroup: str, target: Target, as_json: bool) -> None:
    """Move a detached volume to another datastore, keeping its name, vmgroup, options and metadata.

    An idle attachment is detached first; a volume in use is refused. The target datastore's
    privileges and quotas apply, as for a create there."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VolumeMoveRequest(volume=volume_name, vmgroup=vmgroup, to=to)
    reply = call(target, as_json, "VolumeMove", request)
    emit(to_dict(reply), as_json, f"Successfully moved volume {reply.volume} to {reply.moved_to}")


def _add_snapshot_commands() -> None:
    """`vdvs volume snapshot ...` (issue 14), in a module of its own."""
    from vdvs.cli.snapshot_commands import snapshot

    volume.add_command(snapshot)


_add_snapshot_commands()
