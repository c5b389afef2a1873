"""Admin listing speed at scale: `volume ls` and `vmgroup ls` with 100 vmgroups, 1,000 VMs, 10,000 volumes.

vDVS took 24 s to list 500 volumes (it walked every datastore and opened
every disk). vdvs lists from its config store. This script builds the
population on a real broker (local backend: every volume is a real sparse
file, so the orphan scan walks 10,000 files), then times, in one run:

- the AdminService RPC alone (VolumeList, VmgroupList), median of 20;
- the whole `vdvs volume ls` / `vdvs vmgroup ls` command (new Python process), median of 5.

    python -m bench.admin_ls [--vmgroups 100 --vms 1000 --volumes 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from testkit.broker_env import start_broker_env
from testkit.seed import seed_ready_volume
from vdvs.cli.admin_client import AdminClient
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import CertRecord, Privilege, VmGroup
from vdvs.tenancy.status import vdvs_timestamp

ROOT = Path(__file__).resolve().parent.parent


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


def time_rpc(socket: Path, method: str, request: object, runs: int = 20) -> tuple[float, int]:
    samples, size = [], 0
    with AdminClient(socket) as client:
        client.call(method, request)  # warm the channel
        for _ in range(runs):
            start = time.perf_counter()
            reply = client.call(method, request)
            samples.append(time.perf_counter() - start)
            columns = getattr(reply, "columns", None)
            size = len(reply.cells) // len(columns) if columns else len(reply.vmgroups)
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
            vol_rpc, vol_rows = await loop.run_in_executor(
                None, time_rpc, socket, "VolumeList", admin_pb2.VolumeListRequest()
            )
            vol_rpc_group, group_rows = await loop.run_in_executor(
                None, time_rpc, socket, "VolumeList", admin_pb2.VolumeListRequest(vmgroup="group042")
            )
            grp_rpc, grp_rows = await loop.run_in_executor(
                None, time_rpc, socket, "VmgroupList", admin_pb2.VmgroupListRequest()
            )
            vol_cmd = await loop.run_in_executor(None, time_command, ["volume", "ls"], socket)
            grp_cmd = await loop.run_in_executor(None, time_command, ["vmgroup", "ls"], socket)
            help_cmd = await loop.run_in_executor(None, time_command, ["--version"], socket)
        finally:
            await env.close()
        results = {
            "population": {"vmgroups": opts.vmgroups, "vms": opts.vms, "volumes": opts.volumes},
            "build_s": round(built, 1),
            "volume_ls_rpc_ms": round(vol_rpc, 1),
            "volume_ls_rows": vol_rows,
            "volume_ls_one_vmgroup_rpc_ms": round(vol_rpc_group, 1),
            "volume_ls_one_vmgroup_rows": group_rows,
            "vmgroup_ls_rpc_ms": round(grp_rpc, 1),
            "vmgroup_ls_rows": grp_rows,
            "volume_ls_command_ms": round(vol_cmd, 1),
            "vmgroup_ls_command_ms": round(grp_cmd, 1),
            "python_startup_vdvs_version_ms": round(help_cmd, 1),
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
