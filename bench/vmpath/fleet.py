"""Many VMs calling one broker, always from a process of its own: Get throughput spread over a fleet.

    python -m bench.vmpath.fleet --address unix:///.../broker.sock --plan plan.json \
        [--concurrency 64 --warmup 1 --seconds 4]

``plan.json`` lists ``[bundle_dir, volume]`` pairs: each VM opens its own mTLS channel (the plugin's
BrokerClient) and Gets that volume (one of its vmgroup's). First every VM makes one Get (its channel
is up, its identity and vmgroup are in the broker's cache); with ``--sync`` the process then prints
``ready`` and waits for a line on stdin, so that several fleets measure in the same window. Then
``--concurrency`` tasks call in a closed loop for ``--warmup`` + ``--seconds``, each task going round
the fleet, so consecutive calls come from different VMs. The calls that finish inside the last
``--seconds`` are counted. Every reply is checked (a failed call is an error, not timed). Prints one
JSON object on stdout (after ``ready``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.vmpath.caller import CALL_TIMEOUT_S, Errors
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

OPENING = 16  # VMs opening their channel at once


async def measure(
    address: str, plan: list[tuple[str, str]], concurrency: int, warmup_s: float, seconds: float, sync: bool
) -> Any:
    clients = [
        (BrokerClient(address, read_bundle(Path(b)), call_timeout_s=CALL_TIMEOUT_S, retry_budget_s=0, bundle_dir=b), v)
        for b, v in plan
    ]
    errors = Errors()
    gate = asyncio.Semaphore(OPENING)

    async def first(client: BrokerClient, volume: str) -> None:
        async with gate:
            if (await client.get(volume)).name != volume:
                raise RuntimeError(f"Get {volume}: another volume in the reply")

    try:
        await asyncio.wait_for(asyncio.gather(*(first(c, v) for c, v in clients)), 10 * CALL_TIMEOUT_S)
        if sync:
            print("ready", flush=True)
            await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), 10 * CALL_TIMEOUT_S)
        started = time.monotonic()
        window = (started + warmup_s, started + warmup_s + seconds)
        counted = [0]
        made = [0]  # every call after the start, warm-up included

        async def worker(start: int) -> None:
            i = start
            while time.monotonic() < window[1]:
                client, volume = clients[i % len(clients)]
                i += concurrency
                try:
                    if (await client.get(volume)).name != volume:
                        raise RuntimeError(f"Get {volume}: another volume in the reply")
                except Exception as exc:
                    errors.add(exc)
                    continue
                made[0] += 1
                if window[0] <= time.monotonic() <= window[1]:
                    counted[0] += 1

        await asyncio.wait_for(
            asyncio.gather(*(worker(n) for n in range(concurrency))), warmup_s + seconds + 2 * CALL_TIMEOUT_S
        )
    finally:
        await asyncio.gather(*(c.close() for c, _ in clients), return_exceptions=True)
    return {
        "vms": len(clients),
        "calls": counted[0],
        "seconds": seconds,
        "calls_s": counted[0] / seconds,
        "calls_after_start": made[0],
        "errors": errors.count,
        "error_samples": errors.samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", required=True, help="the broker's VolumeService address (unix://...)")
    parser.add_argument("--plan", type=Path, required=True, help="JSON list of [bundle_dir, volume]")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sync", action="store_true", help="print 'ready' once warm, start on a line on stdin")
    opts = parser.parse_args()
    plan = [(str(b), str(v)) for b, v in json.loads(opts.plan.read_text())]
    result = asyncio.run(measure(opts.address, plan, opts.concurrency, opts.warmup, opts.seconds, opts.sync))
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()
