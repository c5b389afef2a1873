"""What the Prometheus metrics cost (issue 12, item 3): a scrape at scale, and the VM path with metrics on.

Two `vdvs broker` processes built alike by the hot-path bench's rig (bench/vmpath/rig.py: local
backend, SQLite, ``--vmgroups`` vmgroups holding ``--volumes`` volumes, ``--vms`` VMs with
certificates, the bench VM in _DEFAULT), one without ``[metrics]`` and one with it (``cache_s = 0``:
every scrape reads the store, the worst case). Every vmgroup gets a size quota and count limits, so
that each of its gauges has a series. Each VM then makes a Get, a List and a Get of a missing volume
on both brokers, so that the operation histogram has the children of a broker in service.

- ``metrics_scrape_ms``: ``GET /metrics`` from this process, ``--scrapes`` times one after another;
  the median wall time (goal <= 50 ms), with its p90, size and number of series.
- ``metrics_overhead_ratio``: the bench VM's Get throughput (64 callers) on the broker with metrics
  over the one without, in one run: one client process (bench/vmpath/alternate.py) measures them in
  alternating slices of ``--seconds`` (off, on, on, off, off, on, ...), ``--pairs`` pairs; the median
  of the pairs' ratios (goal >= 0.97). Meanwhile this process scrapes the broker with metrics every
  ``--scrape-interval`` seconds. The broker's CPU time per Get in the same slices (from /proc), which
  other processes on the machine disturb far less than the rate: ``metrics_cpu_ratio``, on / off.

    python -m bench.observability            # 100 vmgroups, 10,000 volumes, 400 VMs (~1.5 min)
    python -m bench.observability --quick    # a small smoke run

Merges its keys into bench/results/observability.json (``--out``), which other benches write too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from subprocess import PIPE
from types import FrameType
from typing import Any

from bench.hot_path import environment
from bench.vmpath.rig import REPO, Rig
from testkit.broker_process import cli_env
from testkit.prometheus import free_port
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import read_bundle
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.store import SqliteStore

RESULTS = REPO / "bench" / "results" / "observability.json"
HTTP_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 60.0
CALLERS_AT_ONCE = 32
CALLER_SLACK_S = 300.0
GOALS = {"metrics_scrape_ms<=50": ("metrics_scrape_ms", "le", 50.0),
         "metrics_overhead_ratio>=0.97": ("metrics_overhead_ratio", "ge", 0.97)}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: small sizes, one short round")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--volumes", type=int, default=10_000)
    parser.add_argument("--vms", type=int, default=400, help="VMs with certificates; each makes three calls")
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=40, help="slices of Gets on each broker, in turn")
    parser.add_argument("--seconds", type=float, default=0.5, help="counted seconds of a slice")
    parser.add_argument("--warmup", type=float, default=0.2, help="uncounted seconds before each slice")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--scrape-interval", type=float, default=2.0, help="seconds between scrapes meanwhile")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.vmgroups, opts.volumes, opts.vms, opts.scrapes, opts.pairs = 5, 200, 20, 3, 4
    for name in ("vmgroups", "vms", "scrapes", "pairs", "concurrency"):
        if getattr(opts, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if opts.seconds <= 0 or opts.warmup < 0 or opts.volumes < 0 or opts.scrape_interval <= 0:
        parser.error("--seconds and --scrape-interval must be positive; --warmup and --volumes not negative")
    return opts


# ---------------------------------------------------------------------- setup
def set_limits(store_path: Path) -> None:
    """A size quota and a count limit on every privilege row of the populated vmgroups, and a count
    limit on each vmgroup (written directly: the store is the bench's, not a user's)."""
    store = SqliteStore(store_path)
    try:
        with store.transaction() as db:
            db.execute(
                "UPDATE privileges SET usage_quota = 10000000, max_volume_count = 100000 WHERE vmgroup_id != ?",
                (DEFAULT_VMGROUP_ID,),
            )
            db.execute("UPDATE vmgroups SET max_volumes = 100000 WHERE id != ?", (DEFAULT_VMGROUP_ID,))
    finally:
        store.close()


async def vm_traffic(rig: Rig) -> int:
    """Each populated VM: a Get of one of its vmgroup's volumes, a List, a Get of a missing volume."""
    gate = asyncio.Semaphore(CALLERS_AT_ONCE)

    async def calls(bundle: Path, volume: str) -> int:
        async with gate:
            client = BrokerClient(rig.address, read_bundle(bundle), call_timeout_s=CALL_TIMEOUT_S, retry_budget_s=5)
            try:
                await client.get(volume)
                await client.list_names()
                with contextlib.suppress(BrokerError):  # refused as not found: what is counted
                    await client.get("no-such-volume")
                return 3
            finally:
                await client.close()

    made = await asyncio.gather(*(calls(i.bundle_dir, i.group_volumes[0]) for i in rig.identities if i.group_volumes))
    return sum(made)


def start(rig: Rig, opts: argparse.Namespace, metrics: bool) -> None:
    if metrics:
        rig.broker.config.metrics_listen = f"127.0.0.1:{free_port()}"
        rig.broker.config.metrics_cache_s = 0.0
    rig.start_broker(opts.vmgroups, opts.vms, opts.volumes, vm_volumes=10)
    set_limits(rig.broker.config.store_path)


# ---------------------------------------------------------------------- measuring
def scrape(listen: str) -> bytes:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=HTTP_TIMEOUT_S) as reply:
        return bytes(reply.read())


def measure_scrapes(listen: str, count: int) -> dict[str, Any]:
    times, body = [], b""
    scrape(listen)  # the first one also starts the datastore cache
    for _ in range(count):
        started = time.perf_counter()
        body = scrape(listen)
        times.append(time.perf_counter() - started)
    lines = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    ordered = sorted(times)
    return {
        "metrics_scrape_ms": round(statistics.median(times) * 1000, 1),
        "metrics_scrape_p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, 1),
        "metrics_scrape_bytes": len(body),
        "metrics_scrape_series": len(lines),
        "metrics_scrape_vmgroup_series": sum(line.startswith("vdvs_vmgroup_") for line in lines),
    }


class Scraper:
    """Scrapes a broker every ``interval_s`` on a thread, as Prometheus would, until stopped."""

    def __init__(self, listen: str, interval_s: float) -> None:
        self._listen = listen
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.scrapes = 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            scrape(self._listen)
            self.scrapes += 1

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(HTTP_TIMEOUT_S)


async def alternate(off: Rig, on: Rig, opts: argparse.Namespace) -> dict[str, Any]:
    """Get throughput of both brokers in alternating slices (bench/vmpath/alternate.py, its own process)."""
    argv = [sys.executable, "-m", "bench.vmpath.alternate", "--a", off.address, "--bundle-a", str(off.bundle),
            "--pid-a", str(off.broker.pid), "--b", on.address, "--bundle-b", str(on.bundle),
            "--pid-b", str(on.broker.pid), "--volume", off.get_volume,
            "--concurrency", str(opts.concurrency), "--warmup", str(opts.warmup), "--seconds", str(opts.seconds),
            "--pairs", str(opts.pairs)]  # fmt: skip
    bound = 2 * opts.pairs * (opts.warmup + opts.seconds) + CALLER_SLACK_S
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=PIPE, cwd=REPO, env=cli_env())
    try:
        out, err = await asyncio.wait_for(proc.communicate(), bound)
    finally:
        if proc.returncode is None:  # timed out, or this run was stopped
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"alternate failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    measured: dict[str, Any] = json.loads(out)
    if measured["errors"]:
        raise RuntimeError(f"alternate: {measured['errors']} failed calls: {measured['error_samples']}")
    return measured


async def measure(off: Rig, on: Rig, opts: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # unwinds every finally
    await asyncio.gather(asyncio.to_thread(start, off, opts, False), asyncio.to_thread(start, on, opts, True))
    calls = [await vm_traffic(off), await vm_traffic(on)]
    listen = on.broker.config.metrics_listen
    result: dict[str, Any] = await asyncio.to_thread(measure_scrapes, listen, opts.scrapes)
    with Scraper(listen, opts.scrape_interval) as scraper:
        slices = await alternate(off, on, opts)
    off_rates, on_rates = slices["a"]["calls_s"], slices["b"]["calls_s"]
    ratios = [on_rate / off_rate for off_rate, on_rate in zip(off_rates, on_rates, strict=True) if off_rate]
    result["metrics_overhead_ratio"] = round(statistics.median(ratios), 3)
    result["get_calls_s_metrics_off"] = round(statistics.median(off_rates), 1)
    result["get_calls_s_metrics_on"] = round(statistics.median(on_rates), 1)
    # the broker's CPU per Get: steadier than the rate on a shared machine
    result["get_cpu_us_metrics_off"] = round(statistics.median(slices["a"]["cpu_us"]), 1)
    result["get_cpu_us_metrics_on"] = round(statistics.median(slices["b"]["cpu_us"]), 1)
    result["metrics_cpu_ratio"] = round(result["get_cpu_us_metrics_on"] / result["get_cpu_us_metrics_off"], 3)
    result["overhead_slices"] = {"off": slices["a"], "on": slices["b"], "ratios": [round(r, 3) for r in ratios],
                                 "scrapes_meanwhile": scraper.scrapes}  # fmt: skip
    result["metrics_population"] = {"vmgroups": opts.vmgroups, "volumes": opts.volumes, "vms": opts.vms,
                                    "calls_before_scrapes": calls}  # fmt: skip
    result["metrics_settings"] = {k: getattr(opts, k) for k in ("quick", "scrapes", "pairs", "seconds", "warmup",
                                                                "concurrency", "scrape_interval")}  # fmt: skip
    return result


def merged(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` over what ``path`` holds already (other benches write their keys there too)."""
    try:
        previous = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        previous = {}
    previous.update(result)
    previous["metrics_goals"] = {
        name: (previous[key] <= bound if compare == "le" else previous[key] >= bound)
        for name, (key, compare, bound) in GOALS.items()
    }
    return dict(previous)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    off = Rig(Path(tempfile.mkdtemp(prefix="vdvs-obs-")))  # short: unix socket paths are limited
    on = Rig(Path(tempfile.mkdtemp(prefix="vdvs-obs-")))
    try:
        result = asyncio.run(measure(off, on, opts))
    except asyncio.CancelledError:
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup is not interrupted
        off.close()
        on.close()
        signal.signal(signal.SIGTERM, _terminate)
    result["metrics_environment"] = environment()
    result["metrics_wall_s"] = round(time.monotonic() - started, 1)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    written = merged(opts.out, result)
    opts.out.write_text(json.dumps(written, indent=2) + "\n")
    print(f"GET /metrics with {opts.vmgroups} vmgroups, {opts.volumes:,} volumes: median {result['metrics_scrape_ms']}"
          f" ms, p90 {result['metrics_scrape_p90_ms']} ms ({result['metrics_scrape_series']:,} series,"
          f" {result['metrics_scrape_bytes']:,} bytes)")  # fmt: skip
    print(f"Get at {opts.concurrency} callers, metrics on / off: {result['metrics_overhead_ratio']}"
          f" ({result['get_calls_s_metrics_on']:.0f} / {result['get_calls_s_metrics_off']:.0f} calls/s);"
          f" broker CPU per Get {result['get_cpu_us_metrics_on']:.0f} / {result['get_cpu_us_metrics_off']:.0f} us"
          f" ({result['metrics_cpu_ratio']})")  # fmt: skip
    for name, met in written["metrics_goals"].items():
        print(f"  {name:32s} {'met' if met else 'MISSED'}")
    print(f"\nmerged into {opts.out} ({result['metrics_wall_s']} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(main())
