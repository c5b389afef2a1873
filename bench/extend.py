"""Online extend vs the copy it replaces: growing a volume that holds data, on real loop devices.

Before vdvs could extend, a full volume was "grown" by hand: create a bigger volume, format it,
mount both, copy the data over (and switch the containers to the new name). This bench measures
both on the local backend, through a real broker (in this process, gRPC + mTLS, SQLite), as a
Docker host's plugin would do them:

- ``extend``: the VM's Extend (truncate + ``losetup -c`` on the broker side) and ``xfs_growfs`` on
  the mounted filesystem (what ``vdvs volume extend NAME`` does through the plugin);
- ``copy_to_bigger``: Create a volume of the new size, Attach it, ``mkfs.xfs``, mount, ``cp -a`` the
  data, ``sync``, unmount.

Each round starts from a fresh volume of ``--from-mb`` holding ``--data-mb`` of written data (xfs,
as ext4 online growth needs CAP_SYS_RESOURCE, which a container's root may lack); the median of
``--rounds`` is reported. ``ratio`` = copy_to_bigger_s / extend_s.

    sudo .venv/bin/python -m bench.extend [--rounds 3 --from-mb 1024 --to-mb 2048 --data-mb 512]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.broker_env import start_broker_env
from testkit.system import detach_loops
from vdvs.plugin import fs_grow
from vdvs.plugin.broker_client import BrokerClient

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "extend.json"
FS = ["xfs"]


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=600)


async def sh(*argv: str) -> None:
    """A command, off the event loop (the broker serves on this very loop)."""
    await asyncio.to_thread(_run, *argv)


async def fresh_volume(client: BrokerClient, name: str, size_mb: int, data_mb: int, mnt: Path) -> str:
    """A mounted xfs volume of ``size_mb`` holding ``data_mb`` of data (written, synced); its device."""
    await client.create(name, {"size": f"{size_mb}mb", "fstype": "xfs"}, FS)
    device = (await client.attach(name)).device.path
    await sh("mkfs.xfs", "-q", device)
    await asyncio.to_thread(mnt.mkdir, parents=True, exist_ok=True)
    await sh("mount", device, str(mnt))
    await sh("dd", "if=/dev/urandom", f"of={mnt}/data", "bs=1M", f"count={data_mb}", "conv=fsync")
    return device


async def drop(client: BrokerClient, name: str, mnt: Path) -> None:
    await sh("umount", str(mnt))
    await client.detach(name)
    await client.remove(name)


async def one_round(client: BrokerClient, root: Path, i: int, args: argparse.Namespace) -> tuple[float, float]:
    mnt = root / f"m{i}"
    # extend
    device = await fresh_volume(client, f"e{i}", args.from_mb, args.data_mb, mnt)
    started = time.perf_counter()
    await client.extend(f"e{i}", f"{args.to_mb}mb")
    await fs_grow.grow_filesystem(device, mnt, "xfs")
    extend_s = time.perf_counter() - started
    assert not await asyncio.to_thread(fs_grow.needs_grow, device, "xfs", mnt)
    await drop(client, f"e{i}", mnt)
    # copy to a bigger volume
    await fresh_volume(client, f"c{i}", args.from_mb, args.data_mb, mnt)
    target = root / f"t{i}"
    await asyncio.to_thread(target.mkdir)
    started = time.perf_counter()
    await client.create(f"c{i}-big", {"size": f"{args.to_mb}mb", "fstype": "xfs"}, FS)
    big = (await client.attach(f"c{i}-big")).device.path
    await sh("mkfs.xfs", "-q", big)
    await sh("mount", big, str(target))
    await sh("cp", "-a", f"{mnt}/.", str(target))
    await sh("sync", "-f", str(target))
    await sh("umount", str(target))
    copy_s = time.perf_counter() - started
    await client.detach(f"c{i}-big")
    await client.remove(f"c{i}-big")
    await drop(client, f"c{i}", mnt)
    return extend_s, copy_s


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-extend-") as tmp:
        root = Path(tmp)
        env = await start_broker_env(root, ("local1",))
        try:
            client = env.client(await env.enroll("bench-vm"), op_timeout_s=600)
            rounds = [await one_round(client, root, i, args) for i in range(args.rounds)]
        finally:
            await env.close()
            detach_loops(root)
    extend_s = statistics.median(r[0] for r in rounds)
    copy_s = statistics.median(r[1] for r in rounds)
    return {
        "environment": {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()},
        "from_mb": args.from_mb,
        "to_mb": args.to_mb,
        "data_mb": args.data_mb,
        "rounds": args.rounds,
        "extend_s": round(extend_s, 4),
        "copy_to_bigger_s": round(copy_s, 4),
        "ratio": round(copy_s / extend_s, 1),
        "samples": [{"extend_s": round(e, 4), "copy_to_bigger_s": round(c, 4)} for e, c in rounds],
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--from-mb", type=int, default=1024)
    parser.add_argument("--to-mb", type=int, default=2048)
    parser.add_argument("--data-mb", type=int, default=512)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"extend {results['from_mb']}MB -> {results['to_mb']}MB holding {results['data_mb']}MB (median of "
          f"{results['rounds']}): extend {results['extend_s']:.3f}s, copy to a bigger volume "
          f"{results['copy_to_bigger_s']:.3f}s, ratio {results['ratio']}x")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
