"""What follows when a VM's membership facts change or a VM is found in another vmgroup.

Two reports arrive from other threads and are handled on the event loop:

- the backend's watcher says a VM was renamed, moved to another folder or had a custom attribute
  changed (or, with None, that something every VM's facts depend on changed): the VM's cached
  backend view and tenancy are forgotten, so its next call decides its vmgroup again;
- ``Callers`` says a VM's vmgroup, decided again, is not the one it had (a rule was added,
  changed or removed, or one of the facts above changed): its idle attachments outside the new
  vmgroup are detached in the background, as admin membership commands do. Attachments in use stay
  attached and detachable by the VM (``AttachOps.detach``): a rule change cannot be refused per
  VM the way vDVS refused `vm add/rm` of a VM with volumes mounted.

A VM that makes no call would keep its idle attachments in its old vmgroup until
``idle_detach_s``; so after a rule change (``settle_idle``, called by the rule commands) and a
watcher report, the holders of idle attachments have their vmgroup decided at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.identity import Callers, VmIdentity
from vdvs.broker.inventory import Inventory
from vdvs.tenancy.errors import Err, VdvsError

log = logging.getLogger("vdvs.broker.moves")


async def settle_idle(attach: AttachOps, vm_uuid: str | None = None) -> list[str]:
    """Decide the vmgroup of every VM holding idle attachments (of ``vm_uuid`` only, if given) and
    detach those held outside it; returns the ``name@datastore`` of the volumes detached."""
    p = attach.p
    records = await p.workers.db(p.store.idle_before, time.time() + 1)
    holders: dict[str, tuple[str, set[str]]] = {}
    for record in records:
        if record.attached_vm and vm_uuid in (None, record.attached_vm):
            name, groups = holders.setdefault(record.attached_vm, (record.attached_vm_name or "", set()))
            groups.add(record.vmgroup_id)
    released: list[str] = []
    for holder, (name, groups) in holders.items():
        keep: str | None = None
        try:
            keep = (await p.callers.tenancy(VmIdentity(holder, name or holder, ""))).vmgroup.id
        except VdvsError as exc:
            if exc.err is not Err.VM_NOT_BELONG_TO_TENANT:  # e.g. the backend cannot be asked now
                log.warning("cannot decide the vmgroup of VM %s now: %s", name or holder, exc.message)
                continue
        if any(group != keep for group in groups):
            released += await attach.release_vm(holder, idle_only=True, keep_vmgroup=keep)
    return released


class Moves:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, callers: Callers, inventory: Inventory, attach: AttachOps
    ) -> None:
        self._loop = loop
        self._callers = callers
        self._inventory = inventory
        self._attach = attach
        self._tasks: set[asyncio.Task[list[str]]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ from any thread
    def vm_changed(self, vm_uuid: str | None) -> None:
        """The backend's watcher: this VM's facts (every VM's when None) changed."""
        self._soon(self._forget, vm_uuid)

    def vm_moved(self, vm_uuid: str, vmgroup_id: str) -> None:
        """``Callers``: the VM is now in ``vmgroup_id``, another vmgroup than before."""
        self._soon(self._release, vm_uuid, vmgroup_id)

    def _soon(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.debug("membership report after the broker stopped: ignored")

    # ------------------------------------------------------------------ on the loop
    def _forget(self, vm_uuid: str | None) -> None:
        self._inventory.forget_vm(vm_uuid)
        self._callers.forget(vm_uuid)
        log.info("VM %s changed in the backend: its vmgroup is decided again at its next call", vm_uuid or "(every)")
        self._spawn(settle_idle(self._attach, vm_uuid))

    def _release(self, vm_uuid: str, vmgroup_id: str) -> None:
        self._spawn(self._attach.release_vm(vm_uuid, idle_only=True, keep_vmgroup=vmgroup_id))

    def _spawn(self, work: Coroutine[Any, Any, list[str]]) -> None:
        if self._stopping:
            work.close()
            return
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[list[str]]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("settling a VM's attachments after a membership change failed: %s", task.exception())
        elif task.result():
            log.info("a VM changed vmgroup: detached its idle %s", ", ".join(task.result()))

    async def stop(self, timeout_s: float) -> None:
        """Start no more releases; wait (bounded) for those under way."""
        self._stopping = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
