"""Per-key asyncio locks (one per volume, one per VM), created on demand and dropped when idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import AsyncExitStack, asynccontextmanager

from vdvs.tenancy.errors import Err, VdvsError


class KeyedLocks:
    def __init__(self, timeout_s: float) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}
        self._timeout_s = timeout_s

    @asynccontextmanager
    async def hold(self, key: Hashable, label: str, timeout_s: float | None = None) -> AsyncIterator[None]:
        """Hold the lock for ``key``; VOLUME_BUSY if it cannot be had within the timeout (0: only if free)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(self._timeout_s if timeout_s is None else timeout_s):
                    await lock.acquire()
            except TimeoutError:
                raise VdvsError(Err.VOLUME_BUSY, label) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @asynccontextmanager
    async def hold_all(self, keys: list[tuple[Hashable, str]]) -> AsyncIterator[None]:
        """Hold several locks, always taken in one global order so two holders cannot deadlock."""
        async with AsyncExitStack() as stack:
            for key, label in sorted(set(keys), key=lambda item: repr(item[0])):
                await stack.enter_async_context(self.hold(key, label))
            yield

    def __len__(self) -> int:
        return len(self._locks)
