"""Config-store latency through a real broker: PostgreSQL vs SQLite.

For each store, a `vdvs broker` subprocess (local backend, temp datastores, its own CA) and one
enrolled VM calling it with the plugin's BrokerClient over mTLS:

- create: N creates of a 10 MB thin volume one after another (median / p90 / p99 per call), then
  N more from 8 concurrent callers (creates per second);
- List (what `docker volume ls` asks) with 1,000 and 10,000 volumes in the VM's vmgroup, and the
  admin VolumeList RPC (`vdvs volume ls`, every vmgroup, orphan scan included) at the same sizes.

The populations beyond the creates are written straight into the store in one transaction (a
row and a sparse file per volume), as bench/admin_ls.py does. PostgreSQL runs durably (fsync and
synchronous_commit on, like SQLite's synchronous=FULL), in its own temp cluster on a unix socket.

    sudo .venv/bin/python -m bench.store_latency [--creates 200] [--sizes 1000,10000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.postgres import PostgresCluster, find_bin_dir, unavailable_reason
from testkit.seed import seed_ready_volume
from testkit.site import Site
from vdvs.cli.admin_client import AdminClient
from vdvs.plugin.broker_client import BrokerClient
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.status import vdvs_timestamp

ROOT = Path(__file__).resolve().parent.parent

VM_UUID = "42b00000-0000-4000-8000-000000000001"
CONCURRENCY = 8


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p90_ms": round(pct(0.90) * 1000, 2),
        "p99_ms": round(pct(0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def populate(site: Site, start: int, stop: int) -> None:
    """Volumes p<start>..p<stop-1> of _DEFAULT on local1: rows in one transaction, sparse files."""
    datastore_dir = site.root / "datastores" / "local1"
    url, now = site.datastore_url(), vdvs_timestamp()
    with site.store() as store, store.transaction():
        for i in range(start, stop):
            seed_ready_volume(store, DEFAULT_VMGROUP_ID, url, datastore_dir, f"p{i:05d}", size_mb=10, created=now,
                              created_by="bench-vm", created_by_uuid=VM_UUID)  # fmt: skip


async def time_calls(call: Any, runs: int) -> list[float]:
    await call()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


def time_admin_list(socket: Path, runs: int) -> tuple[list[float], int]:
    samples, rows = [], 0
    with AdminClient(socket) as client:
        client.call("VolumeList", admin_pb2.VolumeListRequest())
        for _ in range(runs):
            start = time.perf_counter()
            reply = client.call("VolumeList", admin_pb2.VolumeListRequest())
            samples.append(time.perf_counter() - start)
            rows = len(reply.columns[0].index or reply.columns[0].values) if reply.columns else 0
    return samples, rows


async def measure(kind: str, location: str, root: Path, opts: argparse.Namespace) -> dict[str, Any]:
    site = Site(root, kind, location)
    node = site.node("a", broker_id=f"bench-{kind}")
    init = site.init(node)
    if init.rc != 0:
        raise SystemExit(f"config init failed: {init.err}")
    node.start(log_level="warning")
    result: dict[str, Any] = {}
    try:
        vm = await site.vm("bench-vm", VM_UUID)
        client: BrokerClient = vm.via(node)
        samples = []
        for i in range(opts.creates):
            start = time.perf_counter()
            await client.create(f"c{i:05d}", {"size": "10mb"}, [])
            samples.append(time.perf_counter() - start)
        result["create_sequential"] = stats_ms(samples)
        queue = iter(range(opts.creates))

        async def worker() -> None:
            for i in queue:
                await client.create(f"k{i:05d}", {"size": "10mb"}, [])

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
        result[f"create_{CONCURRENCY}_concurrent"] = {"n": opts.creates, "per_s": round(opts.creates / elapsed, 1)}
        have = 2 * opts.creates
        for size in opts.sizes:
            populate(site, have, size)
            have = size
            listed = await client.list_names()
            assert len(listed) == size, (len(listed), size)
            result[f"list_{size}"] = stats_ms(await time_calls(client.list_names, opts.runs))
            admin, rows = await asyncio.to_thread(time_admin_list, node.admin_socket, max(5, opts.runs // 2))
            assert rows == size, (rows, size)
            result[f"admin_volume_list_{size}"] = stats_ms(admin)
    finally:
        await site.close()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000", help="volume counts to list at")
    parser.add_argument("--runs", type=int, default=20, help="List calls per size")
    opts = parser.parse_args()
    opts.sizes = [int(s) for s in opts.sizes.split(",")]
    if min(opts.sizes) < 2 * opts.creates:
        raise SystemExit("every --sizes value must be at least twice --creates")
    reason = unavailable_reason()
    if reason:  # like a skipped test: `./dev bench` goes on with the other benchmarks
        print(f"store_latency: skipped, cannot run PostgreSQL here: {reason}", file=sys.stderr)
        return
    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="vdvs-sl-"))
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    pg_root = Path(tempfile.mkdtemp(prefix="vdvs-slpg-"))  # its own: the postgres user must reach it
    cluster = PostgresCluster(pg_root, bin_dir, durable=True)
    try:
        cluster.start()
        for kind in ("sqlite", "postgres"):
            root = work / kind
            root.mkdir()
            location = str(root / "a" / "vdvs.db") if kind == "sqlite" else cluster.dsn(cluster.create_database())
            print(f"measuring {kind} ...", file=sys.stderr)
            results[kind] = await measure(kind, location, root, opts)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(pg_root, ignore_errors=True)
    results["environment"] = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql_bin": str(bin_dir),
        "creates": opts.creates,
        "runs": opts.runs,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "store_latency.json").write_text(json.dumps(results, indent=2))
    keys = [k for k in results["sqlite"]]
    print(f"{'figure':<28}{'SQLite':>34}{'PostgreSQL':>34}")
    for key in keys:
        cells = [_cell(results[kind][key]) for kind in ("sqlite", "postgres")]
        print(f"{key:<28}{cells[0]:>34}{cells[1]:>34}")


def _cell(figure: dict[str, float]) -> str:
    if "per_s" in figure:
        return f"{figure['per_s']} /s"
    return f"{figure['median_ms']} ms (p90 {figure['p90_ms']}, p99 {figure['p99_ms']})"


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    asyncio.run(main())
