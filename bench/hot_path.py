"""The VM path against its floor, in one run on one machine (issue 10, items 1 and 7).

Three things, each called by a client process of its own (bench/vmpath/caller.py), never the
server's process:

(a) the floor: a bare grpc.aio unary echo with mTLS on a unix socket, with the broker's own server
    certificate and CA, and the bench VM's bundle as client (bench/vmpath/floor.py); the payload
    is the size of a real Get reply;
(b) the broker: a `vdvs broker` process (local backend, SQLite) on a populated store, Get / List /
    Capabilities through the plugin's BrokerClient;
(c) the plugin: a `vdvs plugin` process on its own socket, connected to that broker, Get / List as
    dockerd sends them (HTTP POST on AF_UNIX, keep-alive).

Each at 1 caller (sequential: p50, p90) and at 64 (closed loop for a fixed time after a warm-up:
calls/s), in ``--rounds`` rounds whose order of targets rotates; medians of the rounds, and ratios
to the floor taken within each round, then their median. Then, from
the broker's own counters (Status: Store_Reads, Store_Transactions), store trips per call of every
VM verb; then the broker's RSS once each of the population's VMs has made a call, and the plugin's
RSS with ``--mounts`` volumes mounted through its socket (root: loop devices, mkfs, mounts).

    python -m bench.hot_path              # 10,000 volumes, 1,000 VMs, 5 rounds of 4 s a target (~5 min)
    python -m bench.hot_path --quick      # a small smoke run (~30 s)

Prints a table and writes bench/results/hot_path.json (``--out``). Cleans up its processes, mounts,
loop devices and temp dir whatever happens, SIGTERM included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from subprocess import PIPE
from types import FrameType
from typing import Any

import grpc

from bench.vmpath import report
from bench.vmpath.caller import TARGETS
from bench.vmpath.memory import broker_rss_after_calls, plugin_rss_with_mounts
from bench.vmpath.rig import REPO, Rig
from bench.vmpath.trips import measure_trips
from testkit.broker_process import cli_env
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

RESULTS = REPO / "bench" / "results" / "hot_path.json"
CALLER_SLACK_S = 300.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: small sizes, one short round")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="c64: measured seconds per target and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="c64: seconds before the measured ones")
    parser.add_argument("--c1-calls", type=int, default=300, help="c1: timed calls per target and round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--volumes", type=int, default=10_000, help="volumes in the store (besides the bench VM's)")
    parser.add_argument("--vms", type=int, default=1_000, help="VMs with certificates, each makes a call")
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--vm-volumes", type=int, default=100, help="volumes of the bench VM's vmgroup (List)")
    parser.add_argument("--mounts", type=int, default=50, help="volumes mounted through the plugin (root)")
    parser.add_argument("--trip-calls", type=int, default=10, help="calls of each verb per trip-count batch")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.seconds, opts.warmup, opts.c1_calls = 1, 0.5, 0.2, 30
        opts.volumes, opts.vms, opts.vmgroups, opts.vm_volumes, opts.mounts, opts.trip_calls = 200, 20, 5, 10, 3, 3
    for name in ("rounds", "c1_calls", "concurrency", "vms", "vmgroups", "vm_volumes", "trip_calls"):
        if getattr(opts, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if opts.seconds <= 0 or opts.warmup < 0 or opts.volumes < 0 or opts.mounts < 0:
        parser.error("--seconds must be positive; --warmup, --volumes and --mounts not negative")
    return opts


async def run_caller(rig: Rig, target: str, payload_bytes: int, opts: argparse.Namespace) -> dict[str, Any]:
    """One client process measuring one target (c1, then c64); its JSON. Killed if this run stops."""
    address = str(rig.plugin_socket) if target.startswith("plugin_") else rig.address
    if target == "floor":
        address = f"unix://{rig.floor_socket}"
    argv = [sys.executable, "-m", "bench.vmpath.caller", "--target", target, "--address", address,
            "--bundle", str(rig.bundle), "--volume", rig.get_volume, "--payload-bytes", str(payload_bytes),
            "--c1-calls", str(opts.c1_calls), "--concurrency", str(opts.concurrency),
            "--warmup", str(opts.warmup), "--seconds", str(opts.seconds)]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=PIPE, cwd=REPO, env=cli_env())
    try:
        out, err = await asyncio.wait_for(proc.communicate(), opts.warmup + opts.seconds + CALLER_SLACK_S)
    finally:
        if proc.returncode is None:  # timed out, or this run was stopped
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"caller {target} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    measured: dict[str, Any] = json.loads(out)
    if measured["errors"]:
        raise RuntimeError(f"caller {target}: {measured['errors']} failed calls: {measured['error_samples']}")
    return measured


async def run_rounds(rig: Rig, payload_bytes: int, opts: argparse.Namespace) -> list[dict[str, dict[str, Any]]]:
    rounds = []
    for n in range(opts.rounds):
        order = TARGETS[n % len(TARGETS) :] + TARGETS[: n % len(TARGETS)]
        measured = {}
        for target in order:
            measured[target] = await run_caller(rig, target, payload_bytes, opts)
            c1, c64 = measured[target]["c1"], measured[target]["c64"]
            print(f"round {n + 1}/{opts.rounds} {target:20s} c1 p50 {c1['p50_ms']:6.2f} ms"
                  f"  c64 {c64['calls_s']:7.0f} calls/s", file=sys.stderr)  # fmt: skip
        rounds.append(measured)
    return rounds


async def get_reply_bytes(rig: Rig) -> int:
    """The size of a real Get reply: the floor echoes as much."""
    client = BrokerClient(rig.address, read_bundle(rig.bundle), retry_budget_s=5)
    try:
        return len((await asyncio.wait_for(client.get(rig.get_volume), 60)).SerializeToString())
    finally:
        await client.close()


async def measure(rig: Rig, opts: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # unwinds every finally
    result: dict[str, Any] = {}
    filled = await asyncio.to_thread(rig.start_broker, opts.vmgroups, opts.vms, opts.volumes, opts.vm_volumes)
    await asyncio.to_thread(rig.start_floor)
    await asyncio.to_thread(rig.start_plugin)
    payload_bytes = await get_reply_bytes(rig)
    rounds = await run_rounds(rig, payload_bytes, opts)
    result.update(report.figures(rounds))
    trips = await measure_trips(rig.broker.admin_socket, rig.address, rig.bundle, rig.get_volume, opts.trip_calls)
    result["store_trips"] = trips
    result["trip_calls"] = opts.trip_calls * 2
    result.update(await broker_rss_after_calls(rig))
    if os.geteuid() == 0:
        result.update(await plugin_rss_with_mounts(rig, opts.mounts))
    else:
        result.update({"plugin_rss_mb": None, "plugin_mounted_volumes": 0})
    result["population"] = {"volumes": opts.volumes + opts.vm_volumes, "vms": opts.vms + 1,
                            "vmgroups": opts.vmgroups + 1, "bench_vm_volumes": opts.vm_volumes,
                            "fill_s": round(filled, 1)}  # fmt: skip
    result["settings"] = {k: getattr(opts, k) for k in ("quick", "rounds", "seconds", "warmup", "c1_calls",
                                                        "concurrency", "mounts")}  # fmt: skip
    result["payload_bytes"] = payload_bytes
    result["rounds"] = rounds
    return result


def environment() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "root": os.geteuid() == 0,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    rig = Rig(Path(tempfile.mkdtemp(prefix="vdvs-hot-")))  # short: unix socket paths are limited
    try:
        result = asyncio.run(measure(rig, opts))  # SIGTERM cancels it there
    except asyncio.CancelledError:
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup is not interrupted
        rig.close()
        signal.signal(signal.SIGTERM, _terminate)
    result["targets"] = report.targets(result)
    result["environment"] = environment()
    result["wall_s"] = round(time.monotonic() - started, 1)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.table(result))
    print(f"\nwritten to {opts.out} ({result['wall_s']} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(main())
