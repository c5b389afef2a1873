"""A datastore directory on a filesystem with reflinks: an XFS (reflink=1) image on a loop device.

The local backend snapshots by reflink where the datastore's filesystem has them; the tests and
bench/snapshot.py mount one of these at a datastore's directory before the broker starts.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

CMD_TIMEOUT_S = 60.0
XFS_MIN_MB = 320  # mkfs.xfs refuses filesystems under 300 MB


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=CMD_TIMEOUT_S)


@contextlib.contextmanager
def reflink_datastore(mountpoint: Path, image: Path, size_mb: int = XFS_MIN_MB) -> Iterator[Path]:
    """Mount a fresh XFS with reflink=1 at ``mountpoint`` (made if missing), from a sparse ``image``."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as fh:
        fh.truncate(max(size_mb, XFS_MIN_MB) * 1024 * 1024)
    _run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(image))
    _run("mount", "-o", "loop", str(image), str(mountpoint))
    try:
        yield mountpoint
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run("umount", "-d", str(mountpoint))
        image.unlink(missing_ok=True)
