"""Where blocking work runs: one thread owns the config store, a bounded pool runs disk operations.

Admin reads (listings of ten thousand volumes) have a thread and a store connection of their own,
so a VM's call never queues behind one: SQLite's WAL lets a reader run beside the writer, and on
PostgreSQL it is simply a second connection. The event loop only awaits these; it never touches
SQLite or a backend itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any, ParamSpec, TypeVar

from vdvs.tenancy.errors import Err, VdvsError

P = ParamSpec("P")
T = TypeVar("T")


_STOP = object()
BATCH = 32  # results handed back to the loop at most this many calls apart
_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]
_Done = tuple["asyncio.Future[Any]", Any, BaseException | None]
# Told how long each store call took (the call, seconds), on the store thread: the metrics' StoreTimer.
StoreCallTimer = Callable[[Callable[[], Any], float], None]


class StoreThread:
    """The one thread that owns the config store, fed by a queue, answering in batches.

    An executor wakes the event loop once per call (a future chained to a future, a lock and a
    self-pipe write each); with 64 VMs calling at once that bookkeeping costs more than the SQLite
    read itself. This thread runs every call queued meanwhile, then wakes the loop once to hand
    back all their results.
    """

    def __init__(self, name: str = "vdvs-store", timer: StoreCallTimer | None = None) -> None:
        self._calls: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        self._timer = timer
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, fn))
        return future

    def _run(self) -> None:
        item: _Call | object | None = self._calls.get()
        while True:
            done: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
            for _ in range(BATCH):  # every call queued meanwhile, up to a batch
                if item is _STOP:
                    _hand_back(done)
                    return
                loop, future, fn = item  # type: ignore[misc]
                try:
                    value = fn() if self._timer is None else _timed(fn, self._timer)
                    done.setdefault(loop, []).append((future, value, None))
                except BaseException as exc:  # handed to the caller, as an executor would
                    done.setdefault(loop, []).append((future, None, exc))
                try:
                    item = self._calls.get_nowait()
                except queue.Empty:
                    item = None
                    break
            _hand_back(done)
            if item is None:
                item = self._calls.get()

    def shutdown(self) -> None:
        self._calls.put(_STOP)
        self._thread.join(timeout=30)


def _timed(fn: Callable[[], T], timer: StoreCallTimer) -> T:
    started = perf_counter()
    try:
        return fn()
    finally:
        timer(fn, perf_counter() - started)


def _hand_back(done: dict[asyncio.AbstractEventLoop, list[_Done]]) -> None:
    """Wake each waiting loop once, for all of its results."""
    for loop, results in done.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_deliver, results)


def _deliver(results: list[_Done]) -> None:
    for future, value, exc in results:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)


class Workers:
    """The store thread, the admin-read thread and the backend pool, with a deadline on every backend call."""

    def __init__(self, backend_workers: int, op_timeout_s: float, store_timer: StoreCallTimer | None = None) -> None:
        self._store = StoreThread(timer=store_timer)
        self._admin_reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vdvs-admin-read")
        self._pool = ThreadPoolExecutor(max_workers=backend_workers, thread_name_prefix="vdvs-disk")
        self.op_timeout_s = op_timeout_s

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a config-store call on the store thread."""
        return await self._store.submit(functools.partial(fn, *args, **kwargs))

    async def admin_read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run an admin read on the admin-read thread, beside (never ahead of) the VMs' store calls.

        ``fn`` must use the admin-read store connection, which belongs to that thread.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._admin_reads, functools.partial(fn, *args, **kwargs))

    async def disk(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a backend call on the pool; give up waiting after the operation timeout.

        A timed-out call may still finish in its thread: callers keep the DB row
        in its in-between state so startup reconciliation settles it.
        """
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        try:
            async with asyncio.timeout(self.op_timeout_s):  # unlike wait_for, no task per call
                return await future
        except TimeoutError:
            raise VdvsError(
                Err.BACKEND_UNAVAILABLE, f"disk operation timed out after {self.op_timeout_s:.0f}s"
            ) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._admin_reads.shutdown(wait=True, cancel_futures=True)
        self._store.shutdown()
