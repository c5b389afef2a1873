"""Two brokers' Get throughput, measured in alternating slices by one client process.

    python -m bench.vmpath.alternate --a unix:///.../a.sock --bundle-a DIR --b unix:///.../b.sock \
        --bundle-b DIR --volume hot0000 [--concurrency 64 --warmup 0.2 --seconds 0.5 --pairs 20]

On a shared machine the rate of a broker drifts by tens of percent within a minute; measured in
turn, slice by slice (a, b, b, a, a, b, ...), both brokers see the same drift, and each pair of
neighbouring slices gives a ratio b / a. The slices are bench/vmpath/caller.py's closed loop of
``--concurrency`` Gets (``--warmup`` seconds uncounted, then ``--seconds`` counted). Prints one JSON
object: the calls per second of every slice of each, and the ratio of each pair.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bench.vmpath.caller import Errors, broker_call, concurrent


async def measure(opts: argparse.Namespace) -> dict[str, Any]:
    errors = Errors()
    rates: dict[str, list[float]] = {"a": [], "b": []}
    async with (
        broker_call("broker_get", opts.a, opts.bundle_a, opts.volume) as get_a,
        broker_call("broker_get", opts.b, opts.bundle_b, opts.volume) as get_b,
    ):
        calls = {"a": get_a, "b": get_b}
        for pair in range(opts.pairs):
            for side in "ab" if pair % 2 == 0 else "ba":
                done = await concurrent(calls[side], opts.concurrency, opts.warmup, opts.seconds, errors)
                rates[side].append(done["calls_s"])
    ratios = [b / a for a, b in zip(rates["a"], rates["b"], strict=True) if a > 0]
    return {"a_calls_s": rates["a"], "b_calls_s": rates["b"], "ratios": ratios, "errors": errors.count,
            "error_samples": errors.samples}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="gRPC address of the first broker")
    parser.add_argument("--bundle-a", type=Path, required=True)
    parser.add_argument("--b", required=True, help="gRPC address of the second broker")
    parser.add_argument("--bundle-b", type=Path, required=True)
    parser.add_argument("--volume", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--pairs", type=int, default=20)
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()
