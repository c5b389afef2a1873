"""Several brokers on one config store, each a real `vdvs broker` subprocess with its own listen
socket, admin socket, broker id and log, all sharing the PostgreSQL store, the CA (one pki dir,
so one VM bundle works with every broker) and the datastore directories.

Layout under ``root``: ``pki/``, ``datastores/local1|local2``, ``bundles/<vm>``, and per broker
``<name>/broker.toml``, ``broker.sock``, ``admin.sock``, ``broker.log``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tests.support.broker_env import make_config
from tests.support.system import stop_process
from tests.tenancy.harness import STOP_TIMEOUT_S, VDVS, Result, cli_env, start_broker_process
from vdvs.broker.config import BrokerConfig
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import ConfigStore, SqliteStore

CLI_TIMEOUT_S = 60.0
CALL_BOUND_S = 120.0
DSN_ENV = "VDVS_TEST_STORE_DSN"


def key_values(text: str) -> dict[str, str]:
    """`vdvs status` / `config status` text output -> {key: value}."""
    pairs = [line.split(": ", 1) if ": " in line else [line.rstrip(":"), ""] for line in text.splitlines()]
    return {k: v for k, v in pairs}


@dataclass
class Node:
    """One broker: its config file (written here), its process, its sockets and log."""

    name: str
    root: Path
    config: BrokerConfig
    broker_id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def config_path(self) -> Path:
        return self.dir / "broker.toml"

    @property
    def log_path(self) -> Path:
        return self.dir / "broker.log"

    @property
    def admin_socket(self) -> Path:
        return self.config.admin_socket

    @property
    def address(self) -> str:
        return self.config.listen

    def write_config(self) -> None:
        """The config file, with ``[broker] id`` (which BrokerConfig.to_toml does not write)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        data = tomllib.loads(self.config.to_toml())
        if self.broker_id:
            data["broker"]["id"] = self.broker_id
        self.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
        self.config_path.chmod(0o600)

    def start(self, log_level: str = "info") -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.proc = start_broker_process(
            self.config_path,
            self.log_path,
            self.admin_socket,
            {**cli_env(), **self.env},
            "--log-level",
            log_level,
            label=f"broker {self.name}",
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_process(self.proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL: a crash, a power cut, a host lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_messages(self) -> list[str]:
        """The ``msg`` of every JSON log line the broker wrote (its logs go to a file: JSON lines)."""
        found = []
        for line in self.log().splitlines():
            try:
                found.append(str(json.loads(line)["msg"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    # ------------------------------------------------------------------ the vdvs command against this broker
    def run(self, *args: str, admin: bool = True, timeout: float = CLI_TIMEOUT_S) -> Result:
        argv = [VDVS, *args] + (["--admin-socket", str(self.admin_socket)] if admin else [])
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env={**cli_env(), **self.env}, check=False
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, admin: bool = True) -> str:
        res = self.run(*args, admin=admin)
        assert res.rc == 0, f"vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        return res.out.rstrip("\n")

    def js(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def status(self) -> dict[str, str]:
        return key_values(self.ok("status"))


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
        # beat often, and sweep often: a broker that dies is noticed, and its operations settled, quickly
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
        return node.run("config", "init", "--config", str(node.config_path), "--state-dir", str(self.root),
                        admin=False)  # fmt: skip

    async def vm(self, name: str, uuid: str, enroll_via: Node | None = None) -> Vm:
        out = self.root / "bundles" / name
        (enroll_via or next(iter(self.nodes.values()))).ok("vm", "enroll", name, "--uuid", uuid, "--out", str(out))
        bundle = read_bundle(out)
        clients = {}
        for node in self.nodes.values():
            client = BrokerClient(node.address, bundle, bundle_dir=str(out), call_timeout_s=30, op_timeout_s=90,
                                  retry_budget_s=1)  # fmt: skip
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


async def bounded(awaitable: Any, limit_s: float = CALL_BOUND_S) -> Any:
    return await asyncio.wait_for(awaitable, limit_s)


async def outcomes(*calls: Any, limit_s: float = CALL_BOUND_S) -> list[Any]:
    """Run calls at once; each result or the exception it raised (bounded)."""
    return list(await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), limit_s))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
