"""Snapshot rules: what a snapshot is, what it costs, how it may be copied, and who may remove what.

A snapshot is a volume row whose ``parent_id`` names the volume it was taken of. It lives in its
vmgroup's namespace next to its volume (``docker volume ls`` shows it), has its volume's size and
filesystem, and is always read-only. It counts against the vmgroup's quota by the space it
holds (its allocated size: a reflink copy shares its blocks until the volume changes them), and
as one volume against the count limits. Pure functions: the broker calls them, the store applies
``CHARGED_MB_SQL`` (the same rule, in SQL, for its sums).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import replace

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.options import ACCESS_TYPES, DEFAULT_DISKFORMAT, VolumeOptions

MB = 1024 * 1024
# What a row charges against a size quota, in SQL: a volume its size, a snapshot its allocated MB
# (rounded up). Twin of ``charged_mb``; every sum a quota is compared with uses it.
CHARGED_MB_SQL = f"(CASE WHEN parent_id IS NULL THEN size_mb ELSE (allocated_bytes + {MB - 1}) / {MB} END)"
CASCADE_VALUES = {"on": True, "off": False}


def charged_mb(allocated_bytes: int) -> int:
    """The MB a snapshot holding ``allocated_bytes`` charges against its vmgroup's size quota."""
    return (max(allocated_bytes, 0) + MB - 1) // MB


def snapshot_options(parent: VolumeRecord) -> VolumeOptions:
    """A snapshot's options: its volume's filesystem and attach mode, thin, read-only, and whose it is."""
    return replace(
        VolumeOptions(),
        diskformat=DEFAULT_DISKFORMAT,
        attach_as=parent.options.attach_as,
        access=ACCESS_TYPES[1],
        fstype=parent.options.fstype,
        snapshot_of=parent.name,
    )


def check_parent(parent: VolumeRecord, shown_name: str) -> None:
    """A snapshot is taken of a volume, never of another snapshot (restore by cloning it instead)."""
    if parent.parent_id is not None:
        raise VdvsError(Err.SNAPSHOT_OF_SNAPSHOT, shown_name, parent.options.snapshot_of or "?")


class CopyKind(enum.StrEnum):
    """How a backend makes the snapshot's disk."""

    REFLINK = "reflink"  # shares the volume's blocks, copy-on-write, in one atomic call (FICLONE)
    SPARSE = "sparse"  # copies the data extents: takes time, so not point-in-time on a disk being written
    NATIVE = "native"  # the backend's own point-in-time snapshot (vSphere: First Class Disk snapshot)


def check_point_in_time(
    kind: CopyKind, parent: VolumeRecord, caller_uuid: str | None, frozen: bool, shown: tuple[str, str]
) -> None:
    """Refuse a copy that would not be point-in-time: a sparse copy of a volume in use, unless the caller
    is its holder and its plugin froze the filesystem for the copy. ``shown``: (volume, datastore)."""
    if kind is not CopyKind.SPARSE or not parent.in_use:
        return
    if frozen and caller_uuid is not None and caller_uuid == parent.attached_vm:
        return
    holder = parent.attached_vm_name or parent.attached_vm or "?"
    raise VdvsError(Err.SNAPSHOT_IN_USE_NO_REFLINK, shown[0], holder, shown[1])


def check_remove(volume: str, snapshots: Sequence[str], cascade: bool, vmgroup: str) -> bool:
    """May ``volume`` go while it has ``snapshots``? True: remove them with it (the vmgroup cascades);
    no snapshots: False; else refused with their names."""
    if not snapshots:
        return False
    if cascade:
        return True
    raise VdvsError(Err.VOLUME_HAS_SNAPSHOTS, volume, ", ".join(sorted(snapshots)), vmgroup)


def check_editable(record: VolumeRecord, access: str | None) -> None:
    """A snapshot stays read-only (``vdvs volume set access=read-write`` is refused on one)."""
    if record.parent_id is not None and access is not None and access != ACCESS_TYPES[1]:
        raise VdvsError(Err.SNAPSHOT_READ_ONLY, record.name, record.options.snapshot_of or "?")


def parse_cascade(value: str) -> bool:
    try:
        return CASCADE_VALUES[value.strip().lower()]
    except KeyError:
        raise VdvsError(Err.CASCADE_DELETE_INVALID, value) from None


def shown_cascade(on: bool) -> str:
    return "on" if on else "off"
