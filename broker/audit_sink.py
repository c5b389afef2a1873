"""The audit trail's writer: admin changes at once, volume operations in batches off the VM path.

A VM's Create, Remove, Attach, Detach and Release each leave one record, refusals included. The
VM path must not pay a store transaction for it: ``volume_call`` only appends the record to a
list in memory (a few microseconds), and a background task writes the list in one transaction
every ``flush_s`` (0.5 s), or as soon as ``batch`` records wait. The bound is therefore: a broker
killed outright loses at most the last ``flush_s`` of volume records (a clean stop writes them).
Admin changes are written right after the change, before the reply goes out (``write``).

``[audit] enabled = false`` records nothing (the benchmark's baseline); ``retention_days`` says
how long records are kept: the broker's periodic sweep deletes older ones (``prune``).

Events (``tenancy.events``: thresholds crossed, power-offs, takeovers, repairs, revoked
certificates used, quota refusals) are records of kind ``event`` in the same trail, buffered as
volume records are (``event``), and handed to the webhook when ``[alerts] webhook`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from vdvs.broker.identity import Callers
from vdvs.broker.runtime import Workers
from vdvs.tenancy.audit import KIND_VOLUME, UNKNOWN, VM_ROLE, AuditRecord, outcome_of
from vdvs.tenancy.errors import Kind, VdvsError
from vdvs.tenancy.events import quota_refused_event
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.audit")
FLUSH_S = 0.5
BATCH = 256  # records waiting that trigger a write before the next tick
MAX_WAITING = 100_000  # while the store cannot be written: older records beyond this are dropped, with a warning
PRUNE_EVERY_S = 60.0


R = TypeVar("R")


class _Context(Protocol):
    def auth_context(self) -> Any: ...


class EventOut(Protocol):
    """Where events go besides the store (the webhook): ``send`` must not block."""

    def send(self, record: AuditRecord) -> None: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def new_request_id(metadata: Iterable[tuple[str, Any]] | None = None) -> str:
    """The caller's ``x-request-id`` if it sent one, else a fresh one."""
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str) and value:
            return value[:64]
    return uuid.uuid4().hex


class AuditSink:
    def __init__(
        self,
        store: ConfigStore,
        workers: Workers,
        callers: Callers | None,
        *,
        enabled: bool = True,
        retention_days: float = 0.0,
        flush_s: float = FLUSH_S,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._workers = workers
        self._callers = callers
        self.enabled = enabled
        self._retention_s = retention_days * 86400
        self._flush_s = flush_s
        self._batch = batch
        self._waiting: list[AuditRecord] = []
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        # volume calls' request ids: this broker's random prefix and a count (a uuid4 each costs more)
        self._prefix = uuid.uuid4().hex[:16]
        self._count = itertools.count(1)
        self.out: EventOut | None = None  # the webhook, when configured

    # ------------------------------------------------------------------ the VM path's hook
    def volume_call(self, action: str, context: _Context, target: str, error: BaseException | None) -> None:
        """Record one VolumeService call (buffered: no store trip); a quota refusal is an event too. Never raises."""
        if not self.enabled and self.out is None:
            return
        try:
            who = self._callers.known(context.auth_context()) if self._callers else ("", "", "", "")
            vm_uuid, vm_name, vmgroup_id, vmgroup = who
            if isinstance(error, asyncio.CancelledError):  # the operation itself goes on, shielded
                outcome, reason = UNKNOWN, "the caller went away before the reply"
            else:
                outcome, reason = outcome_of(error)
            record = AuditRecord(
                time.time(),
                KIND_VOLUME,
                self._request_id(),
                vm_uuid,
                vm_name,
                VM_ROLE,
                vmgroup_id,
                vmgroup,
                action,
                target,
                outcome,
                reason,
            )
            if self.enabled:
                self._buffer(record)
            if isinstance(error, VdvsError) and error.kind is Kind.QUOTA:
                self.event(quota_refused_event(record))
        except Exception:  # an audit record must never fail a VM's call
            log.exception("audit: could not record %s of %s", action, target)

    def event(self, record: AuditRecord) -> None:
        """Record one event (buffered as volume calls are) and hand it to the webhook. Never raises."""
        try:
            record = record._replace(request_id=record.request_id or self._request_id())
            if self.enabled:
                self._buffer(record)
            if self.out is not None:
                self.out.send(record)
        except Exception:  # an event must never fail the call or the task that made it
            log.exception("audit: could not record event %s", record.action)

    def _request_id(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"

    def _buffer(self, record: AuditRecord) -> None:
        self._waiting.append(record)
        if len(self._waiting) >= self._batch:
            self._wake.set()

    # ------------------------------------------------------------------ admin changes
    async def write(self, record: AuditRecord) -> None:
        """Write one record now (an admin change, right after it). Never raises."""
        if not self.enabled:
            return
        try:
            await self._workers.db(self._store.add_audit, [record])
        except Exception as exc:
            log.error("audit: could not write %s by %s: %s", record.action, record.initiator_name, exc)

    # ------------------------------------------------------------------ the writer
    async def flush(self) -> None:
        """Write what waits, in one transaction (kept for the next try if the store fails)."""
        async with self._writing:
            records, self._waiting = self._waiting, []
            if not records:
                return
            try:
                await self._workers.db(self._store.add_audit, records)
            except Exception as exc:
                log.warning("audit: could not write %d record(s), will retry: %s", len(records), exc)
                self._waiting[:0] = records
                if len(self._waiting) > MAX_WAITING:
                    dropped = len(self._waiting) - MAX_WAITING
                    del self._waiting[:dropped]
                    log.error("audit: dropped the %d oldest record(s) the store could not take", dropped)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            await self.flush()

    def start(self) -> None:
        if self.out is not None:
            self.out.start()
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the writer and write what is left (a clean stop loses nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self.out is not None:
            await self.out.stop()

    # ------------------------------------------------------------------ retention
    async def prune(self) -> int:
        """Delete records past retention (at most once a minute; 0 days keeps everything)."""
        now = time.time()
        if self._retention_s <= 0 or now - self._pruned_at < PRUNE_EVERY_S:
            return 0
        self._pruned_at = now
        removed = await self._workers.db(self._store.prune_audit, now - self._retention_s)
        if removed:
            log.info("audit: removed %d record(s) older than %g days", removed, self._retention_s / 86400)
        return removed


class _Audited(Protocol):
    audit: AuditSink


Handler = Callable[[Any, Any, Any], Awaitable[R]]


def audited(action: str) -> Callable[[Handler[R]], Handler[R]]:
    """Decorate a VolumeService handler (under ``@rpc``): record its outcome with ``self.audit``."""

    def decorate(handler: Handler[R]) -> Handler[R]:
        @functools.wraps(handler)
        async def wrapper(self: _Audited, request: Any, context: Any) -> R:
            try:
                reply = await handler(self, request, context)
            except BaseException as exc:
                self.audit.volume_call(action, context, request.name, exc)
                raise
            self.audit.volume_call(action, context, request.name, None)
            return reply

        return wrapper

    return decorate
