"""`vdvs volume move` on the local backend: the disk linked or copied to the target datastore under a
temporary name, published by a link that refuses a taken name, its sidecar written there; only then the
source deleted. Until the target has its disk and sidecar the source stays whole, so reconcile can tell a
complete move from one to undo (broker/move_ops.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError, DiskExistsError, DiskNotFoundError, DiskRef, DiskStat
from vdvs.broker.backends.local import loop
from vdvs.broker.backends.local.copy import fsync_dir, link_or_copy

if TYPE_CHECKING:
    from vdvs.broker.backends.local.backend import LocalBackend


def move_disk(
    backend: LocalBackend, source: DiskRef, target: DiskRef, diskformat: str, meta: dict[str, Any], vmgroup_name: str
) -> DiskStat:
    """Move ``source``'s disk and sidecar to ``target`` (see ``Backend.move_disk``)."""
    src, final = backend._vmdk(source), backend._folder(target, vmgroup_name) / f"{target.name}.vmdk"
    if not src.exists():
        raise DiskNotFoundError(f"{src} does not exist")
    if loop.devices_backed_by(str(src)):
        raise BackendError(f"{src} is still attached to a loop device")
    if final.exists():
        raise DiskExistsError(f"File {final} already exists")
    tmp = backend._tmp_file(target.datastore)
    try:
        link_or_copy(src, tmp, preallocate=diskformat != "thin")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BackendError(f"cannot copy {src}: {exc.strerror or exc}") from exc
    faults.point("move.before_publish")
    backend._publish(tmp, final)
    faults.point("move.after_publish")
    backend._write_meta_or_withdraw(final, target, meta)
    faults.point("move.after_meta")
    stat = backend.stat_disk(target)
    src.unlink(missing_ok=True)
    faults.point("move.after_source_delete")
    backend._sidecar(source).unlink(missing_ok=True)
    fsync_dir(src.parent)
    return stat
