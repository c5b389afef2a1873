"""The sizes a filesystem can be made in: the one table, checked at create so a volume that could never
be formatted is refused then, not at its first mount.

vdvs formats a disk at its first mount (vDVS did it at create, and so told the user at once). Without
this table a ``fstype=xfs,size=150mb`` volume was created, and every mount then failed with mkfs's
usage text. The bounds were measured on the mkfs programs that the tests install (xfsprogs 6.1,
e2fsprogs 1.47, btrfs-progs 6.2; Debian 12), run the way the plugin runs them. A sparse file one MB
past each bound makes mkfs fail, or makes something other than the filesystem asked for.
tests/unit/test_filesystems.py checks every row against the real mkfs of the machine it runs on.

Clones need no check: they inherit their source's filesystem and size, which passed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.sizes import size_text

# ext2/ext3 address blocks in 32 bits: 2^32 blocks of 4 KiB is one block past 16 TiB.
_EXT_32BIT_MAX_MB = 16 * 1024 * 1024 - 1


@dataclass(frozen=True)
class SizeBounds:
    """The smallest and largest volume (MB) that mkfs makes into this filesystem."""

    min_mb: int
    max_mb: int | None = None  # None: beyond vSphere's largest disk (62 TB)


BOUNDS: dict[str, SizeBounds] = {
    # xfsprogs >= 5.19: "Filesystem must be larger than 300MB." (older ones refused below 16 MB)
    "xfs": SizeBounds(300),
    # below 2 MB mke2fs says "Filesystem too small for a journal" and makes ext2: it never mounts as ext3
    "ext3": SizeBounds(2, _EXT_32BIT_MAX_MB),
    # ext4 mounts at 1 MB too (without a journal, as mke2fs warns), and has 64-bit block numbers
    "ext4": SizeBounds(1),
    "ext2": SizeBounds(1, _EXT_32BIT_MAX_MB),
    # btrfs-progs 6.2: "minimum size for each btrfs device is 114294784" (109 MiB)
    "btrfs": SizeBounds(109),
}

# mkfs.X programs that cannot format a blank disk at all: they build an image from a folder.
FROM_FOLDER_ONLY: dict[str, str] = {
    "cramfs": "mkfs.cramfs builds a read-only image from a folder",
}


def check_volume_size(fstype: str, size_mb: int) -> None:
    """Refuse a new volume of ``size_mb`` that ``mkfs.<fstype>`` cannot format; unknown filesystems pass
    (their mkfs decides at the first mount)."""
    if fstype in FROM_FOLDER_ONLY:
        raise VdvsError(Err.FSTYPE_NOT_FOR_BLANK_DISK, fstype, FROM_FOLDER_ONLY[fstype])
    bounds = BOUNDS.get(fstype)
    if bounds is None:
        return
    if size_mb < bounds.min_mb:
        raise VdvsError(Err.VOLUME_SIZE_BELOW_FS_MIN, size_text(size_mb), size_text(bounds.min_mb), fstype)
    if bounds.max_mb is not None and size_mb > bounds.max_mb:
        raise VdvsError(Err.VOLUME_SIZE_ABOVE_FS_MAX, size_text(size_mb), size_text(bounds.max_mb), fstype)
