"""Whether a datastore has room for a new volume: the largest file, free space for thick disks, the
over-commit of thin ones, and the fill line past which operators are warned.

Pure rules over figures a backend reads (``DatastoreSpace``) and the config store sums
(``Provisioned``); the broker checks them before it reserves anything, so a refusal leaves no row
and no disk. A create racing another past the same free space is still caught by the backend
(ENOSPC) and rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.sizes import size_text, space_text

MB = 1024 * 1024
THICK_FORMATS = ("zeroedthick", "eagerzeroedthick")  # allocated in full at create
FILL_WARNING = 0.9  # share of a datastore in use past which operators hear of it


@dataclass(frozen=True)
class DatastoreSpace:
    """A datastore's room as its backend sees it now."""

    name: str
    filesystem: str  # what holds the disks: "ext4", "xfs", "tmpfs", "VMFS", "NFS", ...
    capacity_bytes: int
    free_bytes: int
    largest_file_bytes: int | None = None  # None: no limit short of vSphere's largest disk

    @property
    def used_share(self) -> float:
        return 1.0 - self.free_bytes / self.capacity_bytes if self.capacity_bytes > 0 else 0.0


@dataclass(frozen=True)
class Provisioned:
    """Every volume on one datastore, of every vmgroup, reservations included (config store sums)."""

    size_mb: int = 0  # what they were created with
    allocated_bytes: int = 0  # what they held when last measured (at create and detach)


def check_room(
    space: DatastoreSpace, size_mb: int, diskformat: str, provisioned: Provisioned, overcommit: float | None
) -> None:
    """Refuse a volume the datastore cannot hold.

    - Any volume: no larger than the largest file the datastore's filesystem allows.
    - Thick (``zeroedthick``, ``eagerzeroedthick``): no larger than the free space, which it takes at once.
    - Thin, with an over-commit ratio set for the datastore: the volumes' sizes, this one included, may
      reach ``ratio x (free space + space the volumes already hold)``. Adding back what the volumes hold
      keeps data written to a thin volume from counting twice (once as used space, once as size); on a
      datastore holding nothing else this is ``ratio x capacity``, vSphere's own measure of over-commit.
      Without a ratio thin volumes are not limited, as on vSphere.
    """
    size_bytes = size_mb * MB
    largest = space.largest_file_bytes
    if largest is not None and size_bytes > largest:
        raise VdvsError(
            Err.DATASTORE_FILE_TOO_LARGE, size_text(size_mb), space_text(largest), space.name, space.filesystem
        )
    if diskformat in THICK_FORMATS:
        if size_bytes > space.free_bytes:
            raise VdvsError(
                Err.DATASTORE_NO_SPACE, space.name, size_text(size_mb), diskformat, space_text(space.free_bytes)
            )
        return
    if overcommit is None:
        return
    room = space.free_bytes + provisioned.allocated_bytes
    limit = int(room * overcommit)
    after = (provisioned.size_mb + size_mb) * MB
    if after > limit:
        raise VdvsError(
            Err.DATASTORE_OVERCOMMIT,
            size_text(size_mb),
            space.name,
            space_text(after),
            space_text(limit),
            f"{overcommit:g}",
            space_text(room),
        )


def past_fill_line(space: DatastoreSpace) -> bool:
    """True when the datastore is at least ``FILL_WARNING`` full."""
    return space.used_share >= FILL_WARNING
