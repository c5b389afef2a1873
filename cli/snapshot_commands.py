"""`vdvs volume snapshot create|ls|rm --volume v@ds --name S`: point-in-time snapshots of a vmgroup's volume.

A snapshot is a read-only volume of the vmgroup, next to its volume (Docker VMs see it in `docker
volume ls` and mount it read-only); `docker volume create -o clone-from=v -o from-snapshot=S` makes
a writable copy of one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table

if TYPE_CHECKING:
    from vdvs.proto import admin_pb2

HEADERS = ["Name", "Volume", "Vmgroup", "Created", "Created_by", "Capacity_MB", "Allocated_MB", "Status"]
MB = 1024 * 1024


def _row(s: admin_pb2.VolumeSnapshot) -> list[str]:
    status = f"{s.status} ({s.attached_to_vm})" if s.attached_to_vm else s.status
    allocated = f"{s.allocated_bytes / MB:.1f}"
    return [s.name, s.volume, s.vmgroup, s.created, s.created_by, str(s.capacity_mb), allocated, status]


def _request(volume: str, vmgroup: str, name: str = "") -> admin_pb2.VolumeSnapshotRequest:
    from vdvs.proto import admin_pb2

    return admin_pb2.VolumeSnapshotRequest(volume=volume, vmgroup=vmgroup, name=name)


@click.group()
def snapshot() -> None:
    """Point-in-time snapshots of a volume (read-only volumes of its vmgroup)."""


_VOLUME = click.option("--volume", "volume_name", required=True, help="volume@datastore")
_VMGROUP = click.option("--vmgroup", default="_DEFAULT", show_default=True, help="the volume's vmgroup")
_NAME = click.option("--name", required=True, help="the snapshot's name (a volume name of the vmgroup)")


@snapshot.command("create")
@_VOLUME
@_NAME
@_VMGROUP
@admin_options
def create(volume_name: str, name: str, vmgroup: str, target: Target, as_json: bool) -> None:
    """Take a snapshot of a volume (crash-consistent; refused on a volume in use that cannot be copied atomically)."""
    reply = call(target, as_json, "VolumeSnapshotCreate", _request(volume_name, vmgroup, name))
    emit(to_dict(reply), as_json, f"Took snapshot {reply.name} of {reply.volume}")


@snapshot.command("ls")
@_VOLUME
@_VMGROUP
@admin_options
def ls(volume_name: str, vmgroup: str, target: Target, as_json: bool) -> None:
    """List a volume's snapshots."""
    reply = call(target, as_json, "VolumeSnapshotList", _request(volume_name, vmgroup))
    emit([to_dict(s) for s in reply.snapshots], as_json, table(HEADERS, [_row(s) for s in reply.snapshots]))


@snapshot.command("rm")
@_VOLUME
@_NAME
@_VMGROUP
@admin_options
def rm(volume_name: str, name: str, vmgroup: str, target: Target, as_json: bool) -> None:
    """Remove a snapshot of a volume (refused while a VM has it mounted)."""
    reply = call(target, as_json, "VolumeSnapshotRemove", _request(volume_name, vmgroup, name))
    emit(to_dict(reply), as_json, f"Removed snapshot {reply.name} of {reply.volume}")
