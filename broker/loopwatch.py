"""How long the event loop was kept from running: the broker's responsiveness, measured.

A task sleeps ``interval_s`` (10 ms) in a loop; each wake-up later than asked is time the
loop spent on something else. The watch keeps the worst lateness since it started and counts
stalls longer than ``stall_s`` (50 ms). On Linux it also reads how long the loop's thread sat
in the kernel's run queue meanwhile (``/proc/thread-self/schedstat``): lateness minus that is
the broker's own doing (a blocking call or long callback on the loop, its threads holding the
GIL), not a busy machine's. ``vdvs status`` shows ``Loop_MaxLag_ms`` (wall), ``Loop_MaxLagOwn_ms``
and the stall counts of each.

One watch per event loop: the broker starts it in ``Broker.start`` and stops it in
``Broker.stop``; the admin Status handler, served on that same loop, finds it with
``watching()``. Several brokers on one loop (tests) share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

INTERVAL_S = 0.010
STALL_S = 0.050


@dataclass(frozen=True)
class LoopStats:
    max_lag_ms: float  # worst wake-up lateness, wall clock
    max_own_lag_ms: float  # the same, less the time the loop's thread waited for a CPU
    stalls: int  # wake-ups later than the stall threshold
    own_stalls: int
    samples: int

    def status_lines(self) -> list[tuple[str, str]]:
        return [
            ("Loop_MaxLag_ms", f"{self.max_lag_ms:.1f}"),
            ("Loop_MaxLagOwn_ms", f"{self.max_own_lag_ms:.1f}"),
            ("Loop_Stalls_50ms", str(self.stalls)),
            ("Loop_OwnStalls_50ms", str(self.own_stalls)),
            ("Loop_Samples", str(self.samples)),
        ]


class _RunQueueClock:
    """Time the calling thread has waited in the kernel's run queue (0 where Linux does not say)."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def waited_s(self) -> float:
        if self._fd is None:
            return 0.0
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LoopWatch:
    def __init__(self, interval_s: float = INTERVAL_S, stall_s: float = STALL_S) -> None:
        self.interval_s = interval_s
        self.stall_s = stall_s
        self.max_lag_s = self.max_own_lag_s = 0.0
        self.stalls = self.own_stalls = self.samples = 0
        self._users = 0
        self._task: asyncio.Task[None] | None = None
        # told every lateness measured (seconds): a broker's metrics histogram, while that broker runs
        self.observers: list[Callable[[float], None]] = []

    async def _run(self) -> None:
        run_queue = _RunQueueClock()  # opened here: on the loop's own thread
        try:
            while True:
                before, queued = time.monotonic(), run_queue.waited_s()
                await asyncio.sleep(self.interval_s)
                lag = time.monotonic() - before - self.interval_s
                own = max(0.0, lag - (run_queue.waited_s() - queued))
                self.samples += 1
                self.max_lag_s = max(self.max_lag_s, lag)
                self.max_own_lag_s = max(self.max_own_lag_s, own)
                self.stalls += lag > self.stall_s
                self.own_stalls += own > self.stall_s
                for observe in self.observers:
                    observe(lag)
        finally:
            run_queue.close()

    def stats(self) -> LoopStats:
        ms = 1000
        return LoopStats(
            round(self.max_lag_s * ms, 1), round(self.max_own_lag_s * ms, 1), self.stalls, self.own_stalls, self.samples
        )

    def reset(self) -> None:
        self.max_lag_s = self.max_own_lag_s = 0.0
        self.stalls = self.own_stalls = self.samples = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()


_WATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWatch] = weakref.WeakKeyDictionary()


def start() -> LoopWatch:
    """The running loop's watch, started on first use (counted: each ``start`` needs a ``stop``)."""
    loop = asyncio.get_running_loop()
    watch = _WATCHES.get(loop)
    if watch is None:
        watch = _WATCHES[loop] = LoopWatch()
    if not watch.running:
        watch.reset()
        watch._task = loop.create_task(watch._run(), name="vdvs-loopwatch")
    watch._users += 1
    return watch


async def stop(watch: LoopWatch) -> None:
    """Drop one user of ``watch``; the last one stops its task."""
    watch._users = max(0, watch._users - 1)
    task = watch._task
    if watch._users or task is None:
        return
    watch._task = None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def watching() -> LoopStats | None:
    """What the running loop's watch measured so far; None if no broker watches this loop."""
    with contextlib.suppress(RuntimeError):
        watch = _WATCHES.get(asyncio.get_running_loop())
        if watch is not None and watch.running:
            return watch.stats()
    return None
