"""In-flight operation tracking: shield changes from client cancellation, drain them on stop.

A Docker client that gives up (or a plugin timeout) must not cut a create or
attach in half, so every mutating operation runs as its own task that the RPC
merely awaits. On SIGTERM new operations are declined and running ones get a
bounded time to finish (vDVS waited 20 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from vdvs.tenancy.errors import Err, VdvsError

T = TypeVar("T")


class OpGuard:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.stopping:
            coro.close()
            raise VdvsError(Err.SERVICE_STOPPING)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> int:
        """Decline new operations and wait for running ones; return how many were still running."""
        self.stopping = True
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        return len(pending)
