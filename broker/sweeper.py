"""The periodic sweep: idle attachments past their time, operations past their lease, datastores' fill,
audit records past their retention.

Cinder expires reservations so a crash cannot leak usage; here a row left
``creating``/``deleting``/``attaching``/``detaching`` is settled once its lease
(twice the longest an operation may wait and run) has run out, or as soon as the
broker that started it stops beating, without waiting for any broker to restart.
Each row is settled under its volume's lock, after re-reading it, so an operation
of this broker that is still working is never touched. On a slower beat of its own
(``[broker] usage_refresh_s``), the sweep also refreshes the space attached volumes
use and files the day's usage sample (``usage_refresh``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.audit_sink import AuditSink
from vdvs.broker.capacity import Capacity
from vdvs.broker.reconcile import Reconciler, ReconcileReport, repair_events
from vdvs.broker.usage_refresh import UsageRefresh

log = logging.getLogger("vdvs.broker.sweep")


class Sweeper:
    def __init__(
        self,
        attach: AttachOps,
        reconciler: Reconciler,
        report: ReconcileReport,
        lease_s: float,
        live_brokers: Callable[[], Sequence[str]],
        capacity: Capacity | None = None,
        audit: AuditSink | None = None,
        usage: UsageRefresh | None = None,
        usage_every_s: float = 300.0,
    ) -> None:
        self._capacity = capacity
        self._usage = usage
        self._usage_every_s = usage_every_s
        self._attach = attach
        self._reconciler = reconciler
        self._report = report
        self._lease_s = lease_s
        self._live_brokers = live_brokers
        self._audit = audit

    async def sweep(self) -> None:
        """One pass; never raises (the next pass tries again)."""
        try:
            revoked = await self._reconciler.workers.db(self._reconciler.store.revoke_due_certs)
            if revoked:
                log.info("sweep: revoked renewed certificate(s) past their grace: %s", ", ".join(revoked))
            detached = await self._attach.detach_expired_idle()
            if detached:
                log.info("sweep: detached idle %s", ", ".join(detached))
            found = ReconcileReport()
            await self._reconciler.settle(time.time() - self._lease_s, self._live_brokers(), found)
            found.log()
            self._report.merge(found)  # `vdvs status` counts them with startup's
            if self._audit is not None and found.repair_log:
                for record in await repair_events(found, self._reconciler.store, self._reconciler.workers):
                    self._audit.event(record)
            if self._capacity is not None:  # thin volumes fill datastores between creates
                await self._capacity.watch_fill()
            if self._audit is not None:
                await self._audit.prune()
        except Exception:
            log.exception("sweep failed")

    async def refresh_usage(self) -> None:
        """One accounting pass; never raises (the next pass tries again)."""
        if self._usage is None:
            return
        try:
            measured, samples = await self._usage.refresh()
            log.info("sweep: measured %d attached volumes, filed %d usage samples", measured, samples)
        except Exception:
            log.exception("usage refresh failed")

    async def run(self, interval_s: float) -> None:
        """Sweep every ``interval_s``, and refresh usage every ``usage_every_s`` (the first time after
        ``interval_s``), until cancelled."""
        await asyncio.gather(
            _every(interval_s, interval_s, self.sweep), _every(interval_s, self._usage_every_s, self.refresh_usage)
        )


async def _every(first_s: float, interval_s: float, job: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(first_s)
    while True:
        await job()
        await asyncio.sleep(interval_s)
