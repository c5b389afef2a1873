"""Fault injection for the crash and slowness tests: named points where the broker dies or stalls.

Off unless the broker process is started with one of these variables (read once, at import):

- ``VDVS_FAULT_POINT=name[:nth]``: at the ``nth`` time (default 1) the code passes point
  ``name``, the process SIGKILLs itself: no ``finally``, no flush, as a crash or an OOM kill.
- ``VDVS_FAULT_SLEEP=name:seconds[,name:seconds...]``: each time the code passes ``name`` it
  sleeps that long (in the thread it runs in: a backend point stalls one worker, not the loop).

Unset, ``point()`` is one module-global test and a return. Every name a call site may use is
in ``POINTS``, so a test can draw one at random and a misspelt variable is refused at start.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

ENV_POINT = "VDVS_FAULT_POINT"
ENV_SLEEP = "VDVS_FAULT_SLEEP"

# point -> where it is, for the test reports; by where it is, so a crash campaign draws the points
# its backend reaches (the broker's own points are passed on every backend)
BROKER_POINTS: dict[str, str] = {
    # broker/volume_ops.py
    "create.after_reserve": "row 'creating' committed, backend not called yet",
    "commit.create": "disk made, row still 'creating'",
    "create.after_commit": "row 'ready', the caller not told yet",
    "clone.after_reserve": "clone's row 'creating' committed, copy not started",
    "commit.clone": "clone copied, row still 'creating'",
    "remove.after_begin": "row 'deleting' committed, disk untouched",
    "remove.before_row_delete": "disk gone, row still 'deleting'",
    # broker/attach_ops.py
    "attach.after_claim": "claim committed, backend not called yet",
    "attach.after_backend": "device attached and claimed, the caller not told yet",
    "release.after_idle": "attachment recorded idle, the caller not told yet",
    "takeover.after_begin": "takeover committed ('detaching'), the previous holder still has the disk",
    "takeover.before_finish": "detached from the previous holder, claim not moved yet",
    "detach.before_clear": "device detached, claim still recorded",
    # broker/snapshot_ops.py
    "snapshot.after_reserve": "snapshot's row 'creating' committed, copy not started",
    "commit.snapshot": "snapshot copied, row still 'creating'",
}
LOCAL_POINTS: dict[str, str] = {
    # broker/backends/local/backend.py
    "create.before_publish": "disk written under its temporary name only",
    "create.after_publish": "disk published, no sidecar yet",
    "create.after_meta": "disk and sidecar in place, backend not returned",
    "clone.after_copy": "copy written under its temporary name only",
    "clone.after_publish": "clone published, no sidecar yet",
    "remove.after_sidecar": "sidecar gone, disk still there",
    "remove.after_delete": "disk and sidecar gone, backend not returned",
    "attach.before_losetup": "backend attach called, no loop device yet",
    "attach.after_losetup": "loop device set up, backend not returned",
    "detach.after_detach": "loop device released, backend not returned",
    "meta.before_replace": "new sidecar written under its temporary name only",
    "snapshot.after_copy": "snapshot copied (reflink or sparse) under its temporary name only",
    "snapshot.after_publish": "snapshot published, no sidecar yet",
}
VSPHERE_POINTS: dict[str, str] = {
    # broker/backends/vsphere/backend.py: before and after each vCenter task
    "vsphere.create.before_task": "datastore known, CreateVirtualDisk not sent yet",
    "vsphere.create.after_task": "disk created, no sidecar yet",
    "vsphere.create.after_meta": "disk and sidecar in place, backend not returned",
    "vsphere.clone.before_task": "target datastore known, CopyVirtualDisk not sent yet",
    "vsphere.clone.after_task": "copy made, no sidecar yet",
    "vsphere.clone.after_meta": "copy and sidecar in place, backend not returned",
    "vsphere.remove.after_sidecar": "sidecar deleted, DeleteVirtualDisk not sent yet",
    "vsphere.remove.after_task": "disk and sidecar deleted, backend not returned",
    "vsphere.attach.before_reconfig": "VM's devices read, ReconfigVM (add) not sent yet",
    "vsphere.attach.after_reconfig": "disk added to the VM, backend not returned",
    "vsphere.detach.before_reconfig": "VM found, ReconfigVM (remove) not sent yet",
    "vsphere.detach.after_reconfig": "disk removed from the VM, backend not returned",
    "vsphere.snapshot.before_task": "target free, no FCD snapshot taken yet",
    "vsphere.snapshot.after_task": "snapshot made into its disk, no sidecar yet",
}
# online extend (issue 14): kept apart, so the create/attach crash campaigns draw only points their
# workload passes; tests/reliability/test_crash_extend.py crashes at each of these
EXTEND_POINTS: dict[str, str] = {
    # broker/extend_ops.py
    "extend.after_reserve": "row 'extending' at the new size, disk not grown yet",
    "extend.before_commit": "disk grown, row still 'extending'",
    # broker/backends/local/extend.py
    "extend.after_truncate": "disk file grown, its loop devices not refreshed yet",
    # broker/backends/vsphere/backend.py
    "vsphere.extend.before_task": "extend asked, no ReconfigVM / ExtendVirtualDisk sent yet",
    "vsphere.extend.after_task": "disk grown by vCenter, backend not returned",
}
# `vdvs volume move` (issue 14), apart: the crash campaigns' workloads make no moves, so they draw
# from the dicts above; tests/reliability/test_crash_move*.py kill the broker at each of these
MOVE_POINTS: dict[str, str] = {
    # broker/move_ops.py
    "move.after_begin": "row 'moving' and its 'arriving' twin committed, disk untouched",
    "move.after_copy": "disk moved to the target, rows still 'moving'/'arriving'",
    "move.after_commit": "row 'ready' on the target, the caller not told yet",
}
LOCAL_MOVE_POINTS: dict[str, str] = {
    # broker/backends/local/backend.py
    "move.before_publish": "moved disk written under its temporary name only",
    "move.after_publish": "moved disk published on the target, no sidecar there yet",
    "move.after_meta": "target disk and sidecar in place, source untouched",
    "move.after_source_delete": "source disk deleted, its sidecar still there",
}
VSPHERE_MOVE_POINTS: dict[str, str] = {
    # broker/backends/vsphere/backend.py
    "vsphere.move.before_task": "target datastore known, MoveVirtualDisk not sent yet",
    "vsphere.move.after_task": "disk on the target, no sidecar there yet",
    "vsphere.move.after_meta": "disk and sidecar on the target, source sidecar still there",
}
POINTS: dict[str, str] = {
    **BROKER_POINTS,
    **LOCAL_POINTS,
    **VSPHERE_POINTS,
    **EXTEND_POINTS,
    **MOVE_POINTS,
    **LOCAL_MOVE_POINTS,
    **VSPHERE_MOVE_POINTS,
}


class FaultConfigError(ValueError):
    """A fault variable names an unknown point or is malformed."""


def _parse_point(text: str) -> tuple[str, int] | None:
    if not text:
        return None
    name, _, nth = text.partition(":")
    if name not in POINTS:
        raise FaultConfigError(f"{ENV_POINT}: unknown fault point {name!r}")
    try:
        count = int(nth) if nth else 1
    except ValueError:
        raise FaultConfigError(f"{ENV_POINT}: bad hit number {nth!r}") from None
    if count < 1:
        raise FaultConfigError(f"{ENV_POINT}: hit number must be >= 1, not {count}")
    return name, count


def _parse_sleeps(text: str) -> dict[str, float]:
    sleeps: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, seconds = item.partition(":")
        if name not in POINTS:
            raise FaultConfigError(f"{ENV_SLEEP}: unknown fault point {name!r}")
        try:
            sleeps[name] = float(seconds)
        except ValueError:
            raise FaultConfigError(f"{ENV_SLEEP}: bad seconds {seconds!r} for {name}") from None
    return sleeps


_KILL = _parse_point(os.environ.get(ENV_POINT, ""))
_SLEEPS = _parse_sleeps(os.environ.get(ENV_SLEEP, ""))
ACTIVE = _KILL is not None or bool(_SLEEPS)
_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    """Pass fault point ``name``: nothing at all unless a fault variable names it."""
    if ACTIVE:
        _reached(name)


def _reached(name: str) -> None:
    delay = _SLEEPS.get(name)
    if delay:
        time.sleep(delay)
    if _KILL is None or _KILL[0] != name:
        return
    with _lock:
        _hits[name] = hits = _hits.get(name, 0) + 1
    if hits == _KILL[1]:
        # one line for the test log, then die the way a crash does: no cleanup of any kind
        os.write(sys.stderr.fileno(), f"vdvs fault point {name} (hit {hits}): SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
