"""Snapshot of a 1 GB volume full of data: a reflink (XFS datastore, reflink=1) against the full copy it
replaces (the same snapshot on an ext4 datastore, where the local backend copies every data extent).

A real broker in this process (testkit's start_broker_env: local backend, SQLite, mTLS): datastore
local1 is a plain directory on this machine's root filesystem (ext4), local2 an XFS image on a loop
device (testkit.reflink_fs). One volume of 1 GB on each, every byte written (a random 4 MiB block
repeated), then `vdvs volume snapshot create` through the AdminService, timed from the call to its
answer (reserve, copy, commit, sidecar). Each snapshot is removed before the next; medians of
``--runs``. The page cache is warm (the data was just written and synced), as on a busy host.

Writes bench/results/snapshot.json: reflink_s, full_copy_s, ratio (full / reflink), and the space
each snapshot charged its vmgroup's quota (allocated MB).

    sudo .venv/bin/python -m bench.snapshot [--size-mb 1024 --runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.reflink_fs import reflink_datastore
from testkit.system import cleanup_host
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "snapshot.json"
MB = 1024 * 1024
CALL_S = 600.0


def fill(path: Path, size_mb: int) -> None:
    block = os.urandom(4 * MB)
    with open(path, "r+b") as fh:
        for _ in range(size_mb // 4):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())


async def timed_snapshots(env: BrokerEnv, datastore: str, runs: int) -> tuple[list[float], int]:
    """Seconds of each snapshot of vol@datastore, and the MB the last one charged."""
    seconds, charged = [], 0
    for i in range(runs):
        request = admin_pb2.VolumeSnapshotRequest(volume=f"vol@{datastore}", vmgroup="_DEFAULT", name=f"s{i}")
        start = time.perf_counter()
        reply: Any = await asyncio.wait_for(asyncio.to_thread(env.admin, "VolumeSnapshotCreate", request), CALL_S)
        seconds.append(time.perf_counter() - start)
        charged = reply.allocated_bytes // MB
        await asyncio.wait_for(asyncio.to_thread(env.admin, "VolumeSnapshotRemove", request), CALL_S)
    return seconds, charged


async def measure(root: Path, size_mb: int, runs: int) -> dict[str, Any]:
    with reflink_datastore(root / "datastores" / "local2", root / "xfs.img", size_mb=3 * size_mb):
        env = await start_broker_env(root)
        try:
            client = env.client(await env.enroll("bench-vm"))
            for datastore in ("local1", "local2"):
                await asyncio.wait_for(client.create(f"vol@{datastore}", {"size": f"{size_mb}mb"}, ["ext4"]), CALL_S)
                disk = env.datastore_dir(datastore).resolve() / "dockvols" / DEFAULT_VMGROUP_ID / "vol.vmdk"
                await asyncio.to_thread(fill, disk, size_mb)
            full, full_mb = await timed_snapshots(env, "local1", runs)
            reflink, reflink_mb = await timed_snapshots(env, "local2", runs)
            await client.close()
        finally:
            await env.close()
    reflink_s, full_copy_s = statistics.median(reflink), statistics.median(full)
    return {
        "volume_mb": size_mb,
        "runs": runs,
        "reflink_s": round(reflink_s, 4),
        "full_copy_s": round(full_copy_s, 4),
        "ratio": round(full_copy_s / reflink_s, 1),
        "reflink_all_s": [round(s, 4) for s in reflink],
        "full_copy_all_s": [round(s, 4) for s in full],
        "reflink_charged_mb": reflink_mb,
        "full_copy_charged_mb": full_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdvs-") as tmp:
        try:
            figures = asyncio.run(measure(Path(tmp), args.size_mb, args.runs))
        finally:
            cleanup_host(Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'volume':>8} {'reflink_s':>10} {'full_copy_s':>12} {'ratio':>7}")
    print(f"{figures['volume_mb']:>6}MB {figures['reflink_s']:>10} {figures['full_copy_s']:>12} {figures['ratio']:>7}")


if __name__ == "__main__":
    main()
