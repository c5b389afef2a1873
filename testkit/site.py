"""Several brokers on one config store, each a real `vdvs broker` subprocess with its own listen
socket, admin socket, broker id and log, all sharing the store (SQLite file or PostgreSQL), the CA
(one pki dir, so one VM bundle works with every broker) and the datastore directories.

Layout under ``root``: ``pki/``, ``datastores/local1|local2``, ``bundles/<vm>``, and per broker
``<name>/broker.toml``, ``broker.sock``, ``admin.sock``, ``broker.log``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess
from testkit.system import Result
from vdvs.broker.config import BrokerConfig
from vdvs.plugin.broker_client import BrokerClient
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import ConfigStore, SqliteStore

DSN_ENV = "VDVS_TEST_STORE_DSN"


class Node(BrokerProcess):
    """One broker of the site, in ``<root>/<name>/``."""

    def __init__(self, name: str, root: Path, config: BrokerConfig, broker_id: str = "",
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(config, root / name, broker_id=broker_id, env=env, label=f"broker {name}")
        self.name = name
        self.root = root

    @property
    def dir(self) -> Path:
        return self.home

    def start(self, *args: str, env: dict[str, str] | None = None, log_level: str = "info") -> None:
        super().start("--log-level", log_level, *args, env=env)


@dataclass
class Vm:
    """An enrolled VM with a VolumeService client to each broker (the same bundle for all)."""

    name: str
    uuid: str
    clients: dict[str, BrokerClient]

    def via(self, node: Node) -> BrokerClient:
        return self.clients[node.name]


class Site:
    """Brokers sharing one store, CA and datastores; VMs enrolled once, reaching any broker."""

    def __init__(self, root: Path, store_kind: str, location: str) -> None:
        self.root = root
        self.store_kind = store_kind
        self.location = location  # SQLite path or PostgreSQL DSN
        self.nodes: dict[str, Node] = {}
        self.vms: dict[str, Vm] = {}
        self._clients: list[BrokerClient] = []

    def node(self, name: str, broker_id: str = "", via_env: bool = False) -> Node:
        """A broker config sharing pki/ and datastores/; the DSN in the file, or in an env variable."""
        config = make_config(self.root)
        config.listen = f"unix://{self.root / name / 'broker.sock'}"
        config.admin_socket = self.root / name / "admin.sock"
        config.store_kind = self.store_kind
        # poll the generation often, and sweep often: a broker that dies is settled quickly
        config.heartbeat_s, config.sweep_s = 0.2, 0.5
        env: dict[str, str] = {}
        if self.store_kind == "sqlite":
            config.store_path = Path(self.location)
        elif via_env:
            config.store_dsn_env, env[DSN_ENV] = DSN_ENV, self.location
        else:
            config.store_dsn = self.location
        node = self.nodes[name] = Node(name, self.root, config, broker_id, env)
        node.write_config()
        return node

    def init(self, node: Node) -> Result:
        """`vdvs config init` through one broker's config: CA, datastores, the store's schema."""
        return node.init(self.root)

    async def vm(self, name: str, uuid: str, enroll_via: Node | None = None) -> Vm:
        out = (enroll_via or next(iter(self.nodes.values()))).enroll(name, uuid, self.root / "bundles" / name)
        clients = {}
        for node in self.nodes.values():
            client = node.client(out)
            clients[node.name] = client
            self._clients.append(client)
        vm = self.vms[name] = Vm(name, uuid, clients)
        return vm

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
        self._clients.clear()
        for node in self.nodes.values():
            node.stop()

    # ------------------------------------------------------------------ the shared store and datastores
    @contextmanager
    def store(self, owner: str = "") -> Iterator[ConfigStore]:
        """A connection of the test's own (as a third broker would have)."""
        s: ConfigStore
        if self.store_kind == "sqlite":
            s = SqliteStore(self.location)
        else:
            from vdvs.tenancy.store_postgres import PostgresStore

            s = PostgresStore(self.location)
        s.owner = owner
        try:
            yield s
        finally:
            s.close()

    def datastore_url(self, name: str = "local1") -> str:
        return (self.root / "datastores" / name).resolve().as_uri()

    def rows(self) -> list[tuple[str, str, str, int]]:
        """(name, state, datastore url, size MB) of every volume row of every vmgroup."""
        with self.store() as s:
            return sorted((r.name, r.state.value, r.datastore_url, r.size_mb)
                          for r in s.list_volumes(states=tuple(VolumeState)))  # fmt: skip

    def ready_sizes(self, vmgroup_id: str = DEFAULT_VMGROUP_ID, datastore: str = "local1") -> dict[str, int]:
        url = self.datastore_url(datastore)
        with self.store() as s:
            return {r.name: r.size_mb for r in s.list_volumes(vmgroup_id) if r.datastore_url == url}

    def usage(self, vmgroup_id: str = DEFAULT_VMGROUP_ID, datastore: str = "local1") -> int:
        with self.store() as s:
            return s.usage_mb(vmgroup_id, self.datastore_url(datastore))

    def vmdks(self, vmgroup_id: str = DEFAULT_VMGROUP_ID, datastore: str = "local1") -> list[str]:
        folder = self.root / "datastores" / datastore / "dockvols" / vmgroup_id
        return sorted(p.stem for p in folder.glob("*.vmdk")) if folder.is_dir() else []
