"""A real broker in the test's event loop: local backend on temp datastores, SQLite, its own CA.

VMs are enrolled through the real AdminService (unix socket) and talk to the
broker with the plugin's real gRPC client over mTLS.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from vdvs.broker.config import BrokerConfig
from vdvs.broker.server import Broker
from vdvs.broker.setup import init_config
from vdvs.cli.admin_client import AdminClient
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import Bundle, read_bundle
from vdvs.proto import admin_pb2
from vdvs.tenancy.store import SqliteStore


@dataclass
class EnrolledVm:
    name: str
    uuid: str
    bundle: Bundle
    bundle_dir: Path
    serial: str


@dataclass
class BrokerEnv:
    root: Path
    config: BrokerConfig
    broker: Broker
    clients: list[BrokerClient] = field(default_factory=list)

    @property
    def admin_socket(self) -> Path:
        return self.config.admin_socket

    @property
    def address(self) -> str:
        return self.broker.volume_address

    def datastore_dir(self, name: str = "local1") -> Path:
        return self.config.local_datastores[name]

    def admin(self, method: str, request: object) -> object:
        with AdminClient(self.admin_socket) as client:
            return client.call(method, request)

    async def enroll(self, name: str, vm_uuid: str | None = None) -> EnrolledVm:
        from vdvs.cli.enroll import enroll

        vm_uuid = vm_uuid or str(uuid.uuid4())
        out = self.root / "bundles" / name
        reply = await asyncio.to_thread(enroll, self.admin_socket, name, vm_uuid, out)
        return EnrolledVm(name, vm_uuid, read_bundle(out), out, reply.serial)

    def client(self, vm: EnrolledVm, **kwargs: float) -> BrokerClient:
        kwargs.setdefault("retry_budget_s", 1.0)
        client = BrokerClient(self.address, vm.bundle, bundle_dir=str(vm.bundle_dir), **kwargs)
        self.clients.append(client)
        return client

    async def caught_up(self, timeout_s: float = 10.0) -> None:
        """Wait until the broker has seen what another connection changed (its store watch beats
        every ``heartbeat_s``; changes made through the broker itself apply at once)."""
        store = self.store()
        try:
            wanted = store.read_generation()
        finally:
            store.close()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.broker.generation < wanted:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"broker still at generation {self.broker.generation}, store at {wanted}")
            await asyncio.sleep(0.01)

    def store(self) -> SqliteStore:
        """A second connection to the broker's SQLite file, for assertions only."""
        return SqliteStore(self.config.store_path)

    def rows(self) -> list[tuple[str, str, str]]:
        store = self.store()
        try:
            from vdvs.tenancy.model import VolumeState

            return [(r.name, r.state.value, r.datastore_url) for r in store.list_volumes(states=tuple(VolumeState))]
        finally:
            store.close()

    def disk_files(self) -> list[str]:
        """Every file under dockvols/ on every datastore (relative), symlinks excluded."""
        found = []
        for name, root in self.config.local_datastores.items():
            base = root / "dockvols"
            if base.exists():  # rglob does not follow the vmgroup-name symlinks
                found += [f"{name}:{p.relative_to(base)}" for p in base.rglob("*") if p.is_file()]
        return sorted(found)

    async def restart(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()
        await self.broker.stop()
        self.broker = Broker(self.config)
        await self.broker.start()

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.broker.stop()

    def enroll_request(self, name: str, vm_uuid: str) -> admin_pb2.EnrollVmRequest:
        return admin_pb2.EnrollVmRequest(name=name, bios_uuid=vm_uuid)


def make_config(root: Path, datastores: tuple[str, ...] = ("local1", "local2")) -> BrokerConfig:
    config = BrokerConfig.for_state_dir(root, admin_socket=root / "admin.sock")
    config.local_datastores = {name: root / "datastores" / name for name in datastores}
    config.local_vm_datastore = datastores[0]
    return config


async def start_broker_env(
    root: Path, datastores: tuple[str, ...] = ("local1", "local2"), **settings: float
) -> BrokerEnv:
    """A broker on temp datastores; ``settings`` override BrokerConfig fields (idle_detach_s=0, ...)."""
    config = make_config(root, datastores)
    config.heartbeat_s = 0.05  # in-process test brokers: a change through a second connection arrives quickly
    for key, value in settings.items():
        if not hasattr(config, key):
            raise AttributeError(f"BrokerConfig has no setting {key}")
        setattr(config, key, value)
    init_config(config, root / "broker.toml")
    broker = Broker(config)
    await broker.start()
    return BrokerEnv(root, config, broker)
