"""Load: 64 plugins (each its own enrolled VM identity, its own mTLS channel) against one broker
that holds 10,000 volumes and 1,000 VMs, for a fixed time, with a mixed workload.

The broker is a real `vdvs broker` process (local backend, SQLite) on a temp state dir; the store
is populated directly while it is stopped (as bench/admin_ls.py does), then the clients run
get / list / create / remove / attach / detach (attach needs root: loop devices) and a few calls
bound to be refused. Reported: calls per second, latency median / p95 / p99 / max per operation
and overall (client side, wall time of each RPC), refusals that were the client's fault, errors
that were the server's (must be 0), and the broker's own event-loop lag (`vdvs status`).

    python -m bench.load [--vmgroups 100 --vms 1000 --volumes 10000 --clients 64 --seconds 60]

Writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess
from testkit.loadgen import populate, run_load
from testkit.system import detach_loops

ROOT = Path(__file__).resolve().parent.parent


async def measure(
    root: Path, groups: int, vms: int, volumes: int, clients: int, seconds: float, attach: bool
) -> dict[str, Any]:
    env = BrokerProcess(make_config(root), root)
    init = env.init(root)
    if init.rc != 0:
        raise SystemExit(f"vdvs config init failed: {init.err}")
    started = time.perf_counter()
    identities = populate(env.config, root / "bundles", groups, vms, volumes, clients)
    built = time.perf_counter() - started
    env.start()
    try:
        result = await run_load(env.address, identities, seconds, attach)
        status = env.status()
    finally:
        env.stop()
        detach_loops(root)
    summary = result.summary()
    return {
        "population": {"vmgroups": groups, "vms": vms, "volumes": volumes},
        "populate_s": round(built, 1),
        "attach": attach,
        **summary,
        "broker_loop_max_lag_ms": float(status.get("Loop_MaxLag_ms", "nan")),
        "broker_loop_max_lag_own_ms": float(status.get("Loop_MaxLagOwn_ms", "nan")),
        "broker_loop_stalls_50ms": int(status.get("Loop_Stalls_50ms", "-1")),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--volumes", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-attach", action="store_true", help="skip attach/detach (no root, no loop devices)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    opts = parser.parse_args()
    attach = not opts.no_attach and os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="vdvs-load-") as tmp:
        results = asyncio.run(
            measure(Path(tmp), opts.vmgroups, opts.vms, opts.volumes, opts.clients, opts.seconds, attach)
        )
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(results, indent=2))
    overall = results["all"]
    print(
        f"{results['clients']} clients, {results['seconds']} s, {results['calls']} calls "
        f"({results['calls_per_s']}/s); latency median {overall.get('median_ms')} ms, "
        f"p95 {overall.get('p95_ms')} ms, p99 {overall.get('p99_ms')} ms, max {overall.get('max_ms')} ms"
    )
    for op, stats in results["ops"].items():
        print(f"  {op:14s} n={stats['n']:6d}  median {stats['median_ms']:7.1f}  p99 {stats['p99_ms']:7.1f} ms")
    print(f"client-fault refusals: {results['client_faults']}")
    print(f"server-side errors: {results['server_errors']} {results['server_error_samples']}")
    lag, own, stalls = (results[f"broker_loop_{k}"] for k in ("max_lag_ms", "max_lag_own_ms", "stalls_50ms"))
    print(f"broker loop max lag {lag} ms (own {own} ms), stalls >50 ms: {stalls}")
    print(f"written to {opts.out}")
    if results["server_errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()
