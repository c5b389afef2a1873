"""What the broker does when the backend reports a VM changed: a VM that powers off has its volumes
detached; a VM whose facts changed has its vmgroup decided again (and, found in another vmgroup,
its idle attachments detached: see broker/moves.py).

The backend reports from its own thread; everything here hands the work to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.backends.base import Backend
from vdvs.broker.identity import Callers
from vdvs.broker.inventory import Inventory
from vdvs.broker.moves import Moves

log = logging.getLogger("vdvs.broker")


class PowerOffReleases:
    """The detaches started for VMs that powered off, so stopping can wait for them."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[list[str]]] = set()

    def watch(self, backend: Backend, attach_ops: AttachOps, serving: Callable[[], bool]) -> None:
        """Detach the volumes of VMs that power off, while ``serving()`` (not once the broker stops)."""
        watch = getattr(backend, "watch_power_off", None)
        if watch is None:
            return
        loop = asyncio.get_running_loop()

        def spawn(vm_uuid: str) -> None:  # on the loop
            if serving():
                task = loop.create_task(attach_ops.release_vm(vm_uuid))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        def on_power_off(vm_uuid: str) -> None:  # on the backend's thread
            try:
                loop.call_soon_threadsafe(spawn, vm_uuid)
            except RuntimeError:
                log.debug("power-off of VM %s after the broker stopped: ignored", vm_uuid)

        watch(on_power_off)

    async def drain(self, timeout_s: float) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout_s)


def watch_membership(backend: Backend, callers: Callers, inventory: Inventory, attach_ops: AttachOps) -> Moves:
    """Decide a VM's vmgroup again when the backend reports its facts changed; detach the idle
    attachments of a VM found in another vmgroup."""
    moves = Moves(asyncio.get_running_loop(), callers, inventory, attach_ops)
    callers.watch_moves(moves.vm_moved)
    watch = getattr(backend, "watch_vm_changes", None)
    if watch is not None:
        watch(moves.vm_changed)
    return moves
