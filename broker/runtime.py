"""Where blocking work runs: one thread owns the config store, a bounded pool runs disk operations.

Admin reads (listings of ten thousand volumes) have a thread and a store connection of their own,
so a VM's call never queues behind one: SQLite's WAL lets a reader run beside the writer, and on
PostgreSQL it is simply a second connection. The event loop only awaits these; it never touches
SQLite or a backend itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from vdvs.tenancy.errors import Err, VdvsError

P = ParamSpec("P")
T = TypeVar("T")


class Workers:
    """The store thread, the admin-read thread and the backend pool, with a deadline on every backend call."""

    def __init__(self, backend_workers: int, op_timeout_s: float) -> None:
        self._store = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vdvs-store")
        self._admin_reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vdvs-admin-read")
        self._pool = ThreadPoolExecutor(max_workers=backend_workers, thread_name_prefix="vdvs-disk")
        self.op_timeout_s = op_timeout_s

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a config-store call on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store, functools.partial(fn, *args, **kwargs))

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
            return await asyncio.wait_for(future, self.op_timeout_s)
        except TimeoutError:
            raise VdvsError(
                Err.BACKEND_UNAVAILABLE, f"disk operation timed out after {self.op_timeout_s:.0f}s"
            ) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._admin_reads.shutdown(wait=True, cancel_futures=True)
        self._store.shutdown(wait=True)
