"""`vdvs volume move` against the plain copy it replaces (needs root: a loop-mounted filesystem).

A real broker (testkit's in-process BrokerEnv: local backend, SQLite, mTLS) with two datastores:
local1 a folder of the temp dir's filesystem, local2 an xfs filesystem of its own on a loop device
(a move between two filesystems copies; one within a filesystem links). A thin volume of
``--size-mb`` (default 1024) holds ``--data-mb`` (default 256) of data, written in 1 MB pieces
spread over the disk. Each round, median of ``--rounds``:

- ``move_cross_fs_s``: the AdminService VolumeMove local1 -> local2 (copy of the data extents, fsync,
  publish, sidecar, source deleted, rows committed), and back (the figure is one direction's);
- ``plain_copy_s``: what an admin does by hand today: `cp` the disk file to the other filesystem
  (GNU cp, sparse detection on), `sync` it, delete the source (no rows, no quota, no crash safety);
- ``full_copy_s``: the same copy without sparse detection (`cp --sparse=never`): every byte of the disk;
- ``move_same_fs_s``: VolumeMove between two datastores on one filesystem (a hard link).

Writes bench/results/move.json.

    sudo .venv/bin/python -m bench.move [--size-mb 1024 --data-mb 256 --rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.system import cleanup_host
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "move.json"
MB = 1024 * 1024


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=600)


def fill(path: Path, size_mb: int, data_mb: int) -> None:
    """``data_mb`` pieces of 1 MB spread evenly over the (sparse) disk file."""
    step = max(1, size_mb // data_mb)
    with open(path, "r+b") as fh:
        for i in range(data_mb):
            fh.seek(i * step * MB)
            fh.write(os.urandom(MB))
        fh.flush()
        os.fsync(fh.fileno())


async def timed_move(env: BrokerEnv, volume: str, to: str) -> float:
    request = admin_pb2.VolumeMoveRequest(volume=volume, to=to)
    start = time.perf_counter()
    await asyncio.to_thread(env.admin, "VolumeMove", request)
    return time.perf_counter() - start


def timed_copy(src: Path, dst: Path, sparse: str, allocated: list[float]) -> float:
    """By hand: cp to the other datastore, sync, delete the source; then put it back untimed."""
    start = time.perf_counter()
    run("cp", f"--sparse={sparse}", str(src), str(dst))
    run("sync", str(dst))
    src.unlink()
    elapsed = time.perf_counter() - start
    allocated.append(dst.stat().st_blocks * 512 / MB)
    run("cp", "--sparse=always", str(dst), str(src))
    dst.unlink()
    return elapsed


def make_image(image: Path, size_mb: int) -> None:
    with open(image, "wb") as fh:
        fh.truncate(size_mb * MB)


async def measure(root: Path, size_mb: int, data_mb: int, rounds: int) -> dict[str, Any]:
    local2 = root / "datastores" / "local2"
    local2.mkdir(parents=True)
    image = root / "local2.img"
    make_image(image, size_mb * 3 + 512)
    run("mkfs.xfs", "-q", str(image))
    run("mount", "-o", "loop", str(image), str(local2))
    env = await start_broker_env(root, ("local1", "local2", "local3"))
    try:
        vm = env.client(await env.enroll("bench-vm"))
        await vm.create("data", {"size": f"{size_mb}mb"}, ["ext4"])
        disk = env.datastore_dir("local1").resolve() / "dockvols" / DEFAULT_VMGROUP_ID / "data.vmdk"
        fill(disk, size_mb, data_mb)
        allocated = disk.stat().st_blocks * 512
        figures: dict[str, list[float]] = {"move_cross_fs_s": [], "plain_copy_s": [], "full_copy_s": []}
        figures["move_same_fs_s"] = []
        other = local2 / "by-hand.vmdk"
        moved = env.datastore_dir("local2").resolve() / "dockvols" / DEFAULT_VMGROUP_ID / "data.vmdk"
        moved_mb: list[float] = []
        copied_mb: list[float] = []
        for i in range(rounds):
            if i % 2:  # the copy first every other round: neither always finds the other's cache state
                figures["plain_copy_s"].append(await asyncio.to_thread(timed_copy, disk, other, "auto", copied_mb))
            figures["move_cross_fs_s"].append(await timed_move(env, "data@local1", "local2"))
            moved_mb.append(moved.stat().st_blocks * 512 / MB)
            await timed_move(env, "data@local2", "local1")
            if not i % 2:
                figures["plain_copy_s"].append(await asyncio.to_thread(timed_copy, disk, other, "auto", copied_mb))
            figures["full_copy_s"].append(await asyncio.to_thread(timed_copy, disk, other, "never", []))
            figures["move_same_fs_s"].append(await timed_move(env, "data@local1", "local3"))
            await timed_move(env, "data@local3", "local1")
        result: dict[str, Any] = {k: round(statistics.median(v), 4) for k, v in figures.items()}
        result.update(
            size_mb=size_mb,
            data_mb=data_mb,
            allocated_mb=round(allocated / MB, 1),
            moved_allocated_mb=round(statistics.median(moved_mb), 1),
            plain_copy_allocated_mb=round(statistics.median(copied_mb), 1),
            rounds=rounds,
            move_vs_plain_copy=round(result["move_cross_fs_s"] / result["plain_copy_s"], 2),
            move_vs_full_copy=round(result["move_cross_fs_s"] / result["full_copy_s"], 2),
        )
        return result
    finally:
        await env.close()
        run("umount", str(local2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--data-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vdvs-mv-"))
    try:
        result = asyncio.run(measure(root, args.size_mb, args.data_mb, args.rounds))
    finally:
        cleanup_host(root)
        shutil.rmtree(root, ignore_errors=True)
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
