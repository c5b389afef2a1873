"""Growing a local disk: the sparse file grows, then every loop device backed by it is told.

``truncate`` to a larger size only adds a hole (no data moves, nothing is written), and
``losetup -c`` makes the kernel re-read the file's size, so a mounted filesystem's device grows in
place; the guest's filesystem is grown after that by the plugin (resize2fs, xfs_growfs).
"""

from __future__ import annotations

import os
from pathlib import Path

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError, DiskNotFoundError, DiskStat
from vdvs.broker.backends.local import loop


def grow_file(path: Path, size_bytes: int) -> DiskStat:
    """Grow ``path`` to ``size_bytes`` (never shrink it) and refresh its loop devices."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DiskNotFoundError(f"{path} does not exist") from None
    if st.st_size < size_bytes:
        try:
            os.truncate(path, size_bytes)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise BackendError(f"cannot grow {path} to {size_bytes} bytes: {exc.strerror or exc}") from None
    faults.point("extend.after_truncate")
    for device in loop.devices_backed_by(str(path)):
        loop.refresh(device)
    st = path.stat()
    return DiskStat(st.st_size, st.st_blocks * 512)
