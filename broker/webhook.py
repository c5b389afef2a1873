"""The alerts webhook (``[alerts] webhook = "URL"``): each event POSTed as JSON, off every VM's path.

``send`` only appends to a bounded queue (a VM's call or a background task never waits for the
receiver); one task POSTs the queue in order. A failure (a refused connection, a non-2xx answer,
no answer within ``timeout_s``) is retried with exponential backoff (``backoff_s`` doubling up
to ``max_backoff_s``), at most ``attempts`` times, then the event is given up (counted in
``failed``). When the queue is full the oldest waiting event is dropped for the new one, and
counted in ``dropped``: a receiver that is down loses old events, never blocks new ones.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

import aiohttp

from vdvs.tenancy.audit import AuditRecord
from vdvs.tenancy.events import payload

log = logging.getLogger("vdvs.broker.webhook")
QUEUE = 1000
TIMEOUT_S = 5.0
BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
ATTEMPTS = 8


class Webhook:
    def __init__(
        self,
        url: str,
        broker: str,
        *,
        queue: int = QUEUE,
        timeout_s: float = TIMEOUT_S,
        backoff_s: float = BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.url = url
        self._broker = broker
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._size = queue
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._attempts = attempts
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.dropped = 0  # the oldest, pushed out of a full queue
        self.failed = 0  # given up after ``attempts`` tries

    def send(self, record: AuditRecord) -> None:
        """Queue one event (on the event loop; never blocks, never raises for a full queue)."""
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("webhook %s: queue full, %d event(s) dropped so far", self.url, self.dropped)
        self._queue.append(payload(record, self._broker))
        self._wake.set()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def _post(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        async with session.post(self.url, json=body) as response:
            if response.status // 100 != 2:
                raise RuntimeError(f"answered HTTP {response.status}")

    async def _deliver(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                await self._post(session, body)
                self.delivered += 1
                return
            except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
                log.warning(
                    "webhook %s: %s failed (try %d of %d): %s",
                    self.url,
                    body["action"],
                    attempt,
                    self._attempts,
                    str(exc) or type(exc).__name__,
                )
            if attempt < self._attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
        self.failed += 1
        log.error("webhook %s: gave up on %s after %d tries", self.url, body["action"], self._attempts)

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._deliver(session, self._queue.popleft())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop at once: events still waiting are not sent (they are in the audit trail)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
