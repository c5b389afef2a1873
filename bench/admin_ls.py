"""Admin listing speed at scale: `volume ls` and `vmgroup ls` with 100 vmgroups, 1,000 VMs, 10,000 volumes.

vDVS took 24 s to list 500 volumes (it walked every datastore and opened
every disk). vdvs lists from its config store. This script builds the
population on a real broker (local backend: every volume is a real sparse
file, so the orphan scan walks 10,000 files), then times, in one run:

- the AdminService RPC alone (VolumeList, VmgroupList), median of 20, from a client process of
  its own; VolumeList twice: repeated with the store unchanged (the broker serves the rows it
  kept, scanning the datastores for orphans each time), and cold (each call right after a store
  commit: rows read and built anew);
- the whole `vdvs volume ls` / `vdvs vmgroup ls` / `vdvs --help` command (new Python process, run
  from that client process), median of 5;
- what a VM sees while an admin lists: one enrolled VM's sequential Get round trips (its own
  process, as a VM is another machine) with the broker idle, then while another process lists
  every volume back to back, each listing cold (after a store change). The ratio of the mean
  round trips (and of the 99th percentiles) says how much admin work slows the VM path; 1.0 is
  not at all.

    python -m bench.admin_ls [--vmgroups 100 --vms 1000 --volumes 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.seed import seed_ready_volume
from vdvs.cli.admin_client import AdminClient
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import CertRecord, Privilege, VmGroup
from vdvs.tenancy.status import vdvs_timestamp

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def populate(env_root: Path, store_path: Path, datastores: dict[str, Path], n_groups: int, n_vms: int, n_vols: int):
    from vdvs.tenancy.store import SqliteStore

    store = SqliteStore(store_path)
    urls = [p.resolve().as_uri() for p in datastores.values()]
    names = list(datastores)
    now = vdvs_timestamp()
    with store.transaction():
        groups = []
        for g in range(n_groups):
            group = VmGroup(str(uuid.uuid4()), f"group{g:03d}", f"bench group {g}", urls[g % len(urls)])
            store.create_vmgroup(group)
            store.ensure_privilege(Privilege(group.id, group.default_datastore_url, allow_create=True))
            groups.append(group)
        for v in range(n_vms):
            vm_uuid = str(uuid.uuid4())
            store.add_cert(CertRecord(f"{v:040x}", vm_uuid, f"vm{v:04d}", "2099-01-01T00:00:00", False), now)
            store.add_vm(vm_uuid, groups[v % n_groups].id, f"vm{v:04d}")
        for i in range(n_vols):
            group = groups[i % n_groups]
            ds = i % len(urls)
            seed_ready_volume(
                store,
                group.id,
                urls[ds],
                datastores[names[ds]],
                f"vol{i:05d}",
                size_mb=100,
                created=now,
                created_by="vm0000",
            )
    store.close()


def touch_store(client: AdminClient, turn: int) -> None:
    """One small admin change (a vmgroup's description): a store commit, after which the broker
    rebuilds a listing rather than serving the one it kept."""
    client.call("VmgroupUpdate", admin_pb2.VmgroupUpdateRequest(name="group000", description=f"bench turn {turn}"))


def time_rpc(socket: Path, method: str, request: object, runs: int = 20, cold: bool = False) -> tuple[float, int]:
    """Median time of ``method``; ``cold``: each call right after a store commit (nothing kept)."""
    samples, size = [], 0
    with AdminClient(socket) as client:
        client.call(method, request)  # warm the channel
        for turn in range(runs):
            if cold:
                touch_store(client, turn)
            start = time.perf_counter()
            reply = client.call(method, request)
            samples.append(time.perf_counter() - start)
            columns = getattr(reply, "columns", None)
            size = len(columns[0].index or columns[0].values) if columns else len(reply.vmgroups)
    return statistics.median(samples) * 1000, size


def time_command(args: list[str], socket: Path, runs: int = 5) -> float:
    vdvs = str(Path(sys.executable).with_name("vdvs"))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        extra = ["--admin-socket", str(socket)] if len(args) > 1 else []
        done = subprocess.run([vdvs, *args, *extra], capture_output=True, timeout=120, check=False)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"vdvs {' '.join(args)} failed: {done.stderr.decode()}")
    return statistics.median(samples) * 1000


PROBE_S = 4.0  # each phase of the VM Get probe
# Issue 10's goals (100 vmgroups, 1,000 VMs, 10,000 volumes), written beside the figures
TARGETS = {"volume_ls_rpc_ms": 50, "volume_ls_command_ms": 200, "help_command_ms": 100}


def vm_get_round_trips(address: str, bundle_dir: str, volume: str, seconds: float) -> list[float]:
    """In a process of its own: one VM's sequential Gets for ``seconds``; the round trips in s."""
    from vdvs.plugin.broker_client import BrokerClient
    from vdvs.plugin.bundle import read_bundle

    async def run() -> list[float]:
        client = BrokerClient(address, read_bundle(Path(bundle_dir)), retry_budget_s=0)
        try:
            for _ in range(20):  # warm the channel
                await client.get(volume)
            samples = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                start = time.perf_counter()
                await client.get(volume)
                samples.append(time.perf_counter() - start)
            return samples
        finally:
            await client.close()

    return asyncio.run(run())


def list_back_to_back(socket: str, seconds: float) -> int:
    """In a process of its own: VolumeList of everything (with orphans), over and over, each after a
    store change (so each is built in full, none served as kept); how many ran."""
    done = 0
    with AdminClient(Path(socket)) as client:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            touch_store(client, done)
            client.call("VolumeList", admin_pb2.VolumeListRequest())
            done += 1
    return done


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def vm_get_under_admin_load(env: BrokerEnv, socket: Path) -> dict[str, float]:
    """Get round trips of one VM, broker idle vs broker listing 10,000 volumes back to back."""
    vm = await env.enroll("bench-vm")
    client = env.client(vm)
    await client.create("bench-probe", {"size": "1mb"}, ["ext4"])
    loop = asyncio.get_running_loop()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        probe = (vm_get_round_trips, env.address, str(vm.bundle_dir), "bench-probe")
        # both workers started and their imports done before anything is measured
        await asyncio.gather(
            loop.run_in_executor(pool, *probe, 0.5), loop.run_in_executor(pool, list_back_to_back, str(socket), 0.5)
        )
        idle = await loop.run_in_executor(pool, *probe, PROBE_S)
        load = loop.run_in_executor(pool, list_back_to_back, str(socket), PROBE_S + 1.0)
        await asyncio.sleep(0.5)
        busy = await loop.run_in_executor(pool, *probe, PROBE_S)
        listings = await load

    def figures(label: str, samples: list[float]) -> dict[str, float]:
        return {
            f"vm_get_{label}_mean_ms": round(statistics.fmean(samples) * 1000, 2),
            f"vm_get_{label}_p50_ms": round(statistics.median(samples) * 1000, 2),
            f"vm_get_{label}_p99_ms": round(percentile(samples, 0.99) * 1000, 2),
            f"vm_get_{label}_max_ms": round(max(samples) * 1000, 1),
            f"vm_get_{label}_calls": len(samples),
        }

    return {
        **figures("idle", idle),
        **figures("admin_load", busy),
        # the mean is what the VM's work as a whole pays; p99 what its slowest calls pay
        "vm_get_ratio_mean_admin_load_vs_idle": round(statistics.fmean(busy) / statistics.fmean(idle), 2),
        "vm_get_ratio_p99_admin_load_vs_idle": round(percentile(busy, 0.99) / percentile(idle, 0.99), 2),
        "admin_listings_during_load": listings,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--volumes", type=int, default=10000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-") as tmp:
        root = Path(tmp)
        env = await start_broker_env(root)
        await env.broker.stop()
        start = time.perf_counter()
        populate(root, env.config.store_path, env.config.local_datastores, opts.vmgroups, opts.vms, opts.volumes)
        built = time.perf_counter() - start
        await env.restart()
        socket = env.admin_socket
        results = {}
        try:
            loop = asyncio.get_running_loop()
            # the admin client in a process of its own, as the CLI is: in this process it would take
            # turns at the GIL with the broker it measures (0.2 ms switches, see broker/server.py)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as admin:

                async def timed(fn: Callable[..., T], *args: object) -> T:
                    return await loop.run_in_executor(admin, fn, *args)

                vol_rpc, vol_rows = await timed(time_rpc, socket, "VolumeList", admin_pb2.VolumeListRequest())
                vol_rpc_cold, _ = await timed(time_rpc, socket, "VolumeList", admin_pb2.VolumeListRequest(), 20, True)
                vol_rpc_group, group_rows = await timed(
                    time_rpc, socket, "VolumeList", admin_pb2.VolumeListRequest(vmgroup="group042")
                )
                grp_rpc, grp_rows = await timed(time_rpc, socket, "VmgroupList", admin_pb2.VmgroupListRequest())
                vol_cmd = await timed(time_command, ["volume", "ls"], socket)
                grp_cmd = await timed(time_command, ["vmgroup", "ls"], socket)
                version_cmd = await timed(time_command, ["--version"], socket)
                help_cmd = await timed(time_command, ["--help"], socket)
            vm_path = await vm_get_under_admin_load(env, socket)
        finally:
            await env.close()
        results = {
            "population": {"vmgroups": opts.vmgroups, "vms": opts.vms, "volumes": opts.volumes},
            "build_s": round(built, 1),
            "volume_ls_rpc_ms": round(vol_rpc, 1),
            "volume_ls_rows": vol_rows,
            # each call right after a store commit: the listing built in full, not the one kept
            "volume_ls_rpc_cold_ms": round(vol_rpc_cold, 1),
            "volume_ls_one_vmgroup_rpc_ms": round(vol_rpc_group, 1),
            "volume_ls_one_vmgroup_rows": group_rows,
            "vmgroup_ls_rpc_ms": round(grp_rpc, 1),
            "vmgroup_ls_rows": grp_rows,
            "volume_ls_command_ms": round(vol_cmd, 1),
            "vmgroup_ls_command_ms": round(grp_cmd, 1),
            "help_command_ms": round(help_cmd, 1),
            "python_startup_vdvs_version_ms": round(version_cmd, 1),
            **vm_path,
            "targets": TARGETS,
        }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "admin_ls.json").write_text(json.dumps(results, indent=2))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    asyncio.run(main())
