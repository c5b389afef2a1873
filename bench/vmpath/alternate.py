"""Two brokers' Get throughput and CPU per Get, measured in alternating slices by one client process.

    python -m bench.vmpath.alternate --a unix:///.../a.sock --bundle-a DIR --pid-a PID \
        --b unix:///.../b.sock --bundle-b DIR --pid-b PID --volume hot0000 \
        [--concurrency 64 --warmup 0.2 --seconds 0.5 --pairs 20]

On a shared machine a broker's rate drifts by tens of percent within a minute; measured in turn,
slice by slice (a, b, b, a, a, b, ...), both brokers see the same drift, and each pair of
neighbouring slices gives a ratio b / a. A slice is ``--concurrency`` Gets in a closed loop (the
plugin's BrokerClient, as bench/vmpath/caller.py), ``--warmup`` seconds uncounted, then ``--seconds``
counted: the calls finished and the broker process's CPU time (``/proc/PID/stat``) in that window.
CPU per call moves much less than the rate when other processes take the CPUs. Prints one JSON
object: per slice of each broker its calls per second and CPU microseconds per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.vmpath.caller import Errors, broker_call

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


async def one_slice(
    call: Callable[[], Awaitable[None]], pid: int, opts: argparse.Namespace, errors: Errors
) -> tuple[float, float]:
    """(calls per second, broker CPU microseconds per call) in the counted window."""
    done, running = [0], [True]

    async def worker() -> None:
        while running[0]:
            try:
                await call()
            except Exception as exc:
                errors.add(exc)
                continue
            done[0] += 1

    workers = [asyncio.create_task(worker()) for _ in range(opts.concurrency)]
    await asyncio.sleep(opts.warmup)
    calls, cpu, started = done[0], cpu_s(pid), time.monotonic()
    await asyncio.sleep(opts.seconds)
    calls, cpu, elapsed = done[0] - calls, cpu_s(pid) - cpu, time.monotonic() - started
    running[0] = False
    await asyncio.gather(*workers)  # the calls under way finish (each bounded by the client's timeout)
    return calls / elapsed, (cpu / calls * 1e6 if calls else 0.0)


async def measure(opts: argparse.Namespace) -> dict[str, Any]:
    errors = Errors()
    found: dict[str, dict[str, list[float]]] = {side: {"calls_s": [], "cpu_us": []} for side in "ab"}
    async with (
        broker_call("broker_get", opts.a, opts.bundle_a, opts.volume) as get_a,
        broker_call("broker_get", opts.b, opts.bundle_b, opts.volume) as get_b,
    ):
        brokers = {"a": (get_a, opts.pid_a), "b": (get_b, opts.pid_b)}
        for pair in range(opts.pairs):
            for side in "ab" if pair % 2 == 0 else "ba":
                rate, cpu_us = await one_slice(*brokers[side], opts, errors)
                found[side]["calls_s"].append(round(rate, 1))
                found[side]["cpu_us"].append(round(cpu_us, 1))
    return {**found, "errors": errors.count, "error_samples": errors.samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for side in "ab":
        parser.add_argument(f"--{side}", required=True, help=f"gRPC address of broker {side}")
        parser.add_argument(f"--bundle-{side}", type=Path, required=True, help="a VM's bundle enrolled there")
        parser.add_argument(f"--pid-{side}", type=int, required=True, help="its process, for its CPU time")
    parser.add_argument("--volume", required=True, help="the volume Get asks for (on both)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--pairs", type=int, default=20)
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()
