"""A real broker (gRPC + mTLS, SQLite) on the vsphere backend, talking to a vcsim.

Started in the caller's event loop like testkit/broker_env.py does for the
local backend; VMs are enrolled with the BIOS uuid of a simulator VM, so the
broker finds them with SearchIndex.FindByUuid.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.broker_env import BrokerEnv
from testkit.vsphere_sim import DATASTORE, Inspector, Sim, SimVm
from vdvs.broker.backends.base import DiskRef
from vdvs.broker.backends.vsphere.backend import VsphereBackend
from vdvs.broker.config import BrokerConfig
from vdvs.broker.server import Broker, make_backend
from vdvs.broker.setup import init_config
from vdvs.plugin.broker_client import BrokerClient
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

POLL_S = 0.05


def vsphere_config(root: Path, sim: Sim) -> BrokerConfig:
    config = BrokerConfig.for_state_dir(root, admin_socket=root / "admin.sock")
    config.backend = "vsphere"
    config.local_datastores = {}
    config.local_vm_datastore = None
    config.vsphere = sim.settings()
    return config


@dataclass
class VsEnv:
    env: BrokerEnv
    sim: Sim
    insp: Inspector
    # without the watcher: the callback the broker registered, for the test to call instead
    power_callbacks: list[Callable[[str], None]] = field(default_factory=list)

    async def report_power_off(self, vm: SimVm) -> None:
        """Do what the watcher does, from a thread of its own: report ``vm`` as powered off."""
        [callback] = self.power_callbacks
        await asyncio.to_thread(callback, vm.uuid)

    @property
    def backend(self) -> VsphereBackend:
        backend = self.env.broker._backend
        assert isinstance(backend, VsphereBackend)
        return backend

    async def vm_client(self, index: int) -> tuple[SimVm, BrokerClient]:
        """Enroll simulator VM ``index`` (name and BIOS uuid as vcsim has them) and a client for it."""
        vm = self.sim.vms[index]
        enrolled = await self.env.enroll(vm.name, vm.uuid)
        return vm, self.env.client(enrolled)

    @staticmethod
    def disk(name: str, datastore: str = DATASTORE, vmgroup_id: str = DEFAULT_VMGROUP_ID) -> DiskRef:
        return DiskRef(datastore, vmgroup_id, name)

    @staticmethod
    def vmdk(name: str, datastore: str = DATASTORE, vmgroup_id: str = DEFAULT_VMGROUP_ID) -> str:
        return f"[{datastore}] dockvols/{vmgroup_id}/{name}.vmdk"

    def file(self, name: str, vmgroup_id: str = DEFAULT_VMGROUP_ID) -> Path:
        """A file of datastore1 (vcsim keeps it as a plain file in the directory the test made)."""
        return self.sim.dsdir / "dockvols" / vmgroup_id / name

    def disk_files(self) -> list[str]:
        base = self.sim.dsdir / "dockvols"
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) if base.exists() else []

    def attached_paths(self, vm: SimVm) -> list[str]:
        return [d.backing.fileName for d in self.insp.disks(vm.uuid)]

    async def close(self) -> None:
        await self.env.close()


async def start_vsphere_env(
    root: Path, sim: Sim, insp: Inspector, watch: bool = True, workers: int = 8, **settings: Any
) -> VsEnv:
    """Broker on vcsim; ``watch=False`` keeps the power watcher off (to test attach takeover alone);
    ``settings`` override BrokerConfig fields (``overcommit={...}``, ...)."""
    config = vsphere_config(root, sim)
    config.workers = workers
    for key, value in settings.items():
        if not hasattr(config, key):
            raise AttributeError(f"BrokerConfig has no setting {key}")
        setattr(config, key, value)
    init_config(config, root / "broker.toml")
    backend: Any = None
    callbacks: list[Callable[[str], None]] = []
    if not watch:
        backend = await asyncio.to_thread(make_backend, config)
        backend.watch_power_off = callbacks.append
    broker = Broker(config, backend)
    await asyncio.wait_for(broker.start(), 30)
    return VsEnv(BrokerEnv(root, config, broker), sim, insp, callbacks)


async def eventually(check: Any, timeout_s: float = 5.0, what: str = "condition") -> Any:
    """Poll ``check()`` (sync or async) until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s:g}s")
        await asyncio.sleep(POLL_S)
