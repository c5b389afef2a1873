"""vSphere backend cost on govmomi's simulator: broker overhead, and parallel attaches across VMs.

Starts its own vcsim (vCenter mode, ``-vm 5``: 10 VMs) with a ``datastore1``,
and a real broker on it (gRPC + mTLS, SQLite, vsphere backend) as its own
process, ``vdvs broker --config ...``, as deployed (``--in-process`` runs it in
this event loop instead, as the tests do). Then, in one run:

(a) create + attach + detach + delete cycles on one VM, three ways, interleaved:
    - ``broker``: the plugin's BrokerClient over mTLS (what a Docker host pays);
    - ``backend``: the same VsphereBackend calls the broker makes, straight from
      this process (the same pyVmomi calls, with no broker around them);
    - ``minimal``: bare pyVmomi (CreateVirtualDisk, ReconfigVM add, ReconfigVM
      remove, DeleteVirtualDisk; no sidecar, no stat), the floor of any design.
    Overhead ratio = broker / backend (aim <= 1.15x).
(b) 10 volumes created and attached: one VM, one after another (as vDVS did:
    its plugin serialized every call of a host) vs 10 VMs at once.

    python -m bench.vsphere_ops [--cycles 30 --rounds 5 --vms 10 --in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pyVim.task import WaitForTask
from pyVmomi import vim

from testkit import vsphere_sim as simulator
from testkit.broker_process import BrokerProcess
from testkit.vsphere_env import start_vsphere_env, vsphere_config
from vdvs.broker.backends.base import DiskRef
from vdvs.broker.backends.vsphere.backend import VsphereBackend
from vdvs.broker.setup import init_config
from vdvs.plugin.broker_client import BrokerClient
from vdvs.tenancy.model import (
    DEFAULT_VMGROUP_ID,
    VolumeRecord,
    VolumeState,
)
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.sidecar import build as sidecar
from vdvs.tenancy.status import vdvs_timestamp

ROOT = Path(__file__).resolve().parent.parent
DS = simulator.DATASTORE
FS = ["ext4"]
WORKERS = 16  # broker worker threads (vdvs's default is 8)


def ensure_vcsim() -> None:
    """Use $VCSIM, or the cached build, or build it (tools/build-vcsim.sh; root, apt)."""
    if os.environ.get("VCSIM"):
        return
    if not os.access(simulator.DEFAULT_VCSIM, os.X_OK):
        build_dir = str(Path(simulator.DEFAULT_VCSIM).parent)
        env = {**os.environ, "VCSIM_BUILD_DIR": build_dir}
        subprocess.run([str(ROOT / "tools" / "build-vcsim.sh")], check=True, env=env, timeout=900)
    os.environ["VCSIM"] = simulator.DEFAULT_VCSIM


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
    }


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


class Minimal:
    """Bare pyVmomi: what one create/attach/detach/delete costs with nothing around it."""

    def __init__(self, sim: simulator.Sim, vm_uuid: str) -> None:
        self.si = sim.connect()
        content = self.si.content
        self.vdm = content.virtualDiskManager
        self.dc = content.rootFolder.childEntity[0]
        self.vm = content.searchIndex.FindByUuid(self.dc, vm_uuid, True)
        content.fileManager.MakeDirectory(
            name=f"[{DS}] dockvols/minimal", datacenter=self.dc, createParentDirectories=True
        )

    def cycle(self, i: int) -> None:
        path = f"[{DS}] dockvols/minimal/m{i}.vmdk"
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType="thin", adapterType="busLogic", capacityKb=102400
        )
        WaitForTask(self.vdm.CreateVirtualDisk_Task(name=path, datacenter=self.dc, spec=spec))
        devices = self.vm.config.hardware.device
        ctrl = next(d for d in devices if isinstance(d, vim.vm.device.ParaVirtualSCSIController))
        used = {d.unitNumber for d in devices if d.controllerKey == ctrl.key} | {7}
        disk = vim.vm.device.VirtualDisk(
            key=-100,
            controllerKey=ctrl.key,
            unitNumber=min(set(range(16)) - used),
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=path, diskMode="independent_persistent"),
        )
        add = vim.vm.device.VirtualDeviceSpec(operation="add", device=disk)
        WaitForTask(self.vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[add])))
        added = next(
            d
            for d in self.vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualDisk) and d.backing.fileName == path
        )
        remove = vim.vm.device.VirtualDeviceSpec(operation="remove", device=added)
        WaitForTask(self.vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[remove])))
        WaitForTask(self.vdm.DeleteVirtualDisk_Task(name=path, datacenter=self.dc))


def backend_cycle(backend: VsphereBackend, vm_uuid: str, record: Any, i: int) -> None:
    """The backend calls the broker makes for create, attach, detach, remove, in its order."""
    disk = DiskRef(DS, DEFAULT_VMGROUP_ID, f"b{i}")
    meta = sidecar(record, "_DEFAULT")
    backend.create_disk(disk, 100, "thin", meta, "_DEFAULT")
    backend.attach(vm_uuid, disk, "independent_persistent")
    backend.write_meta(disk, meta)  # the sidecar names its new holder
    backend.detach(vm_uuid, disk)
    backend.stat_disk(disk)  # the space in use, measured once the guest let go
    backend.write_meta(disk, meta)
    backend.remove_disk(disk)


class VsphereBroker:
    """``vdvs broker --config`` in a process of its own on vcsim, VMs enrolled through its admin socket."""

    def __init__(self, root: Path, sim: simulator.Sim, workers: int = WORKERS) -> None:
        self.root, self.sim = root, sim
        config = vsphere_config(root, sim)
        config.workers = workers
        self.process = BrokerProcess(config, root)
        init_config(config, self.process.config_path)
        self.clients: list[BrokerClient] = []

    def start(self) -> None:
        """Start it; returns once it serves (it logged in to vcsim), or fails."""
        self.process.start()

    async def vm_client(self, index: int) -> tuple[simulator.SimVm, BrokerClient]:
        vm = self.sim.vms[index]
        out = await asyncio.to_thread(self.process.enroll, vm.name, vm.uuid, self.root / "bundles" / vm.name)
        client = self.process.client(out, call_timeout_s=30, op_timeout_s=150, retry_budget_s=5)
        self.clients.append(client)
        return vm, client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await asyncio.to_thread(self.process.stop)


async def overhead(vs: Any, cycles: int, rounds: int) -> dict[str, Any]:
    vm, client = await vs.vm_client(0)
    backend = VsphereBackend(vs.sim.settings())
    await asyncio.to_thread(backend.connect)
    minimal = await asyncio.to_thread(Minimal, vs.sim, vm.uuid)
    # the sidecar the broker would write for such a volume (same size of JSON)
    record = VolumeRecord(
        0, DEFAULT_VMGROUP_ID, "", "b", 100, VolumeState.READY, VolumeOptions(size="100mb"), vdvs_timestamp()
    )
    samples: dict[str, list[float]] = {"broker": [], "backend": [], "minimal": []}

    async def via_broker(i: int) -> None:
        name = f"c{i}@{DS}"
        await client.create(name, {"size": "100mb"}, FS)
        await client.attach(name)
        await client.detach(name)
        await client.remove(name)

    n = 0
    for _ in range(3):  # warm-up of each path
        await via_broker(n)
        await asyncio.to_thread(backend_cycle, backend, vm.uuid, record, n)
        await asyncio.to_thread(minimal.cycle, n)
        n += 1
    for _ in range(rounds):
        for _ in range(cycles):
            samples["broker"].append(await timed(lambda n=n: via_broker(n)))
            samples["backend"].append(
                await timed(lambda n=n: asyncio.to_thread(backend_cycle, backend, vm.uuid, record, n))
            )
            samples["minimal"].append(await timed(lambda n=n: asyncio.to_thread(minimal.cycle, n)))
            n += 1
    backend.close()
    stats = {k: summary(v) for k, v in samples.items()}
    return {
        "cycles": cycles * rounds,
        **stats,
        "ratio_broker_vs_backend": round(stats["broker"]["median_ms"] / stats["backend"]["median_ms"], 3),
        "ratio_broker_vs_minimal": round(stats["broker"]["median_ms"] / stats["minimal"]["median_ms"], 3),
    }


async def parallel(vs: Any, rounds: int, count: int) -> dict[str, Any]:
    clients = [await vs.vm_client(i) for i in range(count)]
    sequential, spread, one_vm_parallel = [], [], []

    async def create_attach(client: Any, name: str) -> None:
        await client.create(name, {"size": "100mb"}, FS)
        await client.attach(name)

    async def cleanup(pairs: list[tuple[Any, str]]) -> None:
        for client, name in pairs:
            await client.detach(name)
            await client.remove(name)

    for r in range(rounds):
        _, c0 = clients[0]
        names = [f"s{r}-{i}@{DS}" for i in range(count)]
        start = time.perf_counter()
        for name in names:
            await create_attach(c0, name)
        sequential.append(time.perf_counter() - start)
        await cleanup([(c0, n) for n in names])

        names = [f"o{r}-{i}@{DS}" for i in range(count)]
        start = time.perf_counter()
        await asyncio.gather(*(create_attach(c0, n) for n in names))
        one_vm_parallel.append(time.perf_counter() - start)
        await cleanup([(c0, n) for n in names])

        pairs = [(c, f"p{r}-{i}@{DS}") for i, (_, c) in enumerate(clients)]
        start = time.perf_counter()
        await asyncio.gather(*(create_attach(c, n) for c, n in pairs))
        spread.append(time.perf_counter() - start)
        await cleanup(pairs)
    seq, par, one = (statistics.median(x) for x in (sequential, spread, one_vm_parallel))
    return {
        "volumes": count,
        "rounds": rounds,
        "one_vm_sequential": summary(sequential),
        "one_vm_concurrent": summary(one_vm_parallel),
        f"{count}_vms_concurrent": summary(spread),
        "throughput_one_vm_sequential_per_s": round(count / seq, 1),
        f"throughput_{count}_vms_concurrent_per_s": round(count / par, 1),
        "throughput_one_vm_concurrent_per_s": round(count / one, 1),
        "throughput_ratio": round(seq / par, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=30, help="cycles per round for (a)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--vms", type=int, default=10, help="VMs for (b)")
    parser.add_argument("--in-process", action="store_true", help="run the broker in this event loop")
    opts = parser.parse_args()
    ensure_vcsim()
    sim = simulator.start_sim("vpx", ("-vm", str((opts.vms + 1) // 2)))  # VMs per resource pool; VPX has 2 pools
    results: dict[str, Any] = {}
    try:
        insp = simulator.Inspector(sim)
        with tempfile.TemporaryDirectory(prefix="vdvs-bench-") as tmp:
            if opts.in_process:
                vs: Any = await start_vsphere_env(Path(tmp), sim, insp, workers=WORKERS)
            else:
                vs = VsphereBroker(Path(tmp), sim)
                await asyncio.to_thread(vs.start)
            try:
                results["overhead"] = await overhead(vs, opts.cycles, opts.rounds)
                results["parallel"] = await parallel(vs, opts.rounds, opts.vms)
            finally:
                await vs.close()
                insp.close()
    finally:
        simulator.stop_sim(sim)
    results["environment"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "vcsim_vms": len(sim.vms),
        "broker_workers": WORKERS,
        "broker": "in this process" if opts.in_process else "own process (vdvs broker)",
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "vsphere_ops.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    asyncio.run(main())
