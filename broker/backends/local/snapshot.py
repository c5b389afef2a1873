"""Snapshot copies on the local backend: a reflink (FICLONE) where the datastore's filesystem has
them (xfs with reflink=1, btrfs), else a sparse copy of the data extents.

A reflink is one ioctl that makes the new file share every block of the disk file, copy-on-write:
atomic with respect to writes to the disk, so a snapshot of a volume in use is crash-consistent
(the state a power cut would leave), and instant whatever the size. A sparse copy reads the file
while it may be written: point-in-time only if nobody writes meanwhile (the broker checks that,
``tenancy.snapshots.check_point_in_time``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
from pathlib import Path

from vdvs.broker.backends.local.copy import FICLONE
from vdvs.tenancy.snapshots import CopyKind

_NO_REFLINK = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS)
_PROBE_BYTES = 4096


def reflink(src: Path, dst: Path) -> None:
    """Make ``dst`` (new) share ``src``'s blocks; OSError if the filesystem cannot (``_NO_REFLINK``)."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
        os.fsync(fout.fileno())


def copy_kind(directory: Path) -> CopyKind:
    """Whether files in ``directory`` can be reflinked: tried on a small probe file (nothing is cached, so a
    datastore remounted on another filesystem is seen as it is now)."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f"{secrets.token_hex(8)}.probe"
    clone = probe.with_suffix(".clone")
    try:
        probe.write_bytes(b"\0" * _PROBE_BYTES)
        try:
            reflink(probe, clone)
        except OSError as exc:
            if exc.errno in _NO_REFLINK:
                return CopyKind.SPARSE
            raise
        return CopyKind.REFLINK
    finally:
        probe.unlink(missing_ok=True)
        clone.unlink(missing_ok=True)
