"""A broker run as a real subprocess (`vdvs config init` + `vdvs broker`), the `vdvs` CLI run against
it as a subprocess, and enrolled VMs talking to it over mTLS with the plugin's gRPC client.

Two datastores, local1 and local2; every VM lives on local1 (its `_VM_DS`) except ``vmds2``,
which lives on local2.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker_env import make_config
from tests.support.system import stop_process
from vdvs.cli.admin_client import broker_running
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import read_bundle
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.store import SqliteStore

# the vdvs command of the environment running the tests (a fresh clone's own venv in CI)
VDVS = str(Path(sys.executable).with_name("vdvs"))
CLI_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
VM_CALL_TIMEOUT_S = 90.0
DEFAULT_ID = "11111111-1111-1111-1111-111111111111"
VM_UUIDS = {
    "vm1": "42a1b2c3-0000-4000-8000-000000000001",
    "vm2": "42a1b2c3-0000-4000-8000-000000000002",
    "vm3": "42a1b2c3-0000-4000-8000-000000000003",
    "vm4": "42a1b2c3-0000-4000-8000-000000000004",
    "vmds2": "42a1b2c3-0000-4000-8000-000000000005",  # its own datastore is local2
}
VM_COLUMNS = ["Uuid", "Name"]
VMGROUP_COLUMNS = ["Uuid", "Name", "Description", "Default_datastore", "VM_list"]
ACCESS_COLUMNS = ["Datastore", "Allow_create", "Max_volume_size", "Total_size"]
VOLUME_COLUMNS = [
    "Volume",
    "Datastore",
    "VMGroup",
    "Capacity",
    "Used",
    "Filesystem",
    "Policy",
    "Disk Format",
    "Attached-to",
    "Access",
    "Attach-as",
    "Created By",
    "Created Date",
]


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """A vDVS table (header, dashes, rows; columns two spaces apart) -> headers and cells.

    Column spans come from the dashes row, so empty cells are kept.
    """
    lines = text.rstrip("\n").split("\n")
    assert len(lines) >= 2 and set(lines[1]) <= {"-", " "}, f"not a table:\n{text}"
    spans, pos = [], 0
    for dashes in lines[1].split("  "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 2

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() if i < len(spans) - 1 else line[a:].strip() for i, (a, b) in enumerate(spans)]

    return cells(lines[0]), [cells(line) for line in lines[2:]]


@dataclass
class Vm:
    name: str
    uuid: str
    client: BrokerClient


@dataclass
class Tenv:
    """One broker subprocess with its state in ``root``."""

    root: Path
    proc: subprocess.Popen[bytes] | None = None
    clients: list[BrokerClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = make_config(self.root)
        self.config.local_vm_datastores = {VM_UUIDS["vmds2"]: "local2"}
        self.config_path = self.root / "broker.toml"
        self.log_path = self.root / "broker.log"

    # ------------------------------------------------------------------ broker process
    def init(self) -> Result:
        """`vdvs config init` on a config file whose admin socket and datastores are in ``root``."""
        self.config_path.write_text(self.config.to_toml(), encoding="utf-8")
        return self.run("config", "init", "--config", str(self.config_path), "--state-dir", str(self.root), admin=False)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.proc = start_broker_process(self.config_path, self.log_path, self.admin_socket, cli_env())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_process(self.proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)

    @property
    def admin_socket(self) -> Path:
        return self.config.admin_socket

    @property
    def address(self) -> str:
        return self.config.listen

    # ------------------------------------------------------------------ the vdvs command
    def run(self, *args: str, admin: bool = True, timeout: float = CLI_TIMEOUT_S) -> Result:
        argv = [VDVS, *args]
        if admin:
            argv += ["--admin-socket", str(self.admin_socket)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=cli_env(), check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, admin: bool = True) -> str:
        """Run a command that must succeed; its stdout without the final newline."""
        res = self.run(*args, admin=admin)
        assert res.rc == 0, f"vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        return res.out.rstrip("\n")

    def js(self, *args: str, admin: bool = True) -> Any:
        return json.loads(self.ok(*args, "--json", admin=admin))

    def refused(self, *args: str, rc: int = 2) -> str:
        """Run a command that must be refused: the text after ``ERROR:`` on stderr, nothing on stdout."""
        res = self.run(*args)
        assert res.rc == rc, f"vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        assert res.out == "", res.out
        assert res.err.startswith("ERROR:"), res.err
        return res.err[len("ERROR:") :].rstrip("\n")

    def table(self, *args: str) -> tuple[list[str], list[list[str]]]:
        return parse_table(self.ok(*args))

    def state(self) -> dict[str, Any]:
        """Everything an admin can see, to prove a refused command changed nothing."""
        groups = self.js("vmgroup", "ls")
        return {
            "vmgroups": groups,
            "access": {g["name"]: self.js("vmgroup", "access", "ls", "--name", g["name"]) for g in groups},
            "volumes": self.js("volume", "ls"),
            "rows": self.rows(),
        }

    def group_id(self, name: str) -> str:
        return next(g["id"] for g in self.js("vmgroup", "ls") if g["name"] == name)

    # ------------------------------------------------------------------ VMs
    async def vm(self, name: str) -> Vm:
        """Enroll ``name`` with `vdvs vm enroll` and give it a VolumeService client (mTLS)."""
        out = self.root / "bundles" / name
        self.ok("vm", "enroll", name, "--uuid", VM_UUIDS[name], "--out", str(out))
        client = BrokerClient(
            self.address, read_bundle(out), bundle_dir=str(out), call_timeout_s=30, op_timeout_s=60, retry_budget_s=1
        )
        self.clients.append(client)
        return Vm(name, VM_UUIDS[name], client)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()
        self.stop()

    # ------------------------------------------------------------------ what is on disk and in the DB
    def datastore_dir(self, name: str) -> Path:
        return self.config.local_datastores[name].resolve()

    def disk(self, datastore: str, group_id: str, volume: str) -> Path:
        return self.datastore_dir(datastore) / "dockvols" / group_id / f"{volume}.vmdk"

    def vmdks(self) -> list[str]:
        """``datastore:<vmgroup dir>/<file>`` of every .vmdk under dockvols (symlinks not followed)."""
        found = []
        for name in self.config.local_datastores:
            base = self.datastore_dir(name) / "dockvols"
            if base.exists():
                found += [f"{name}:{p.relative_to(base)}" for p in base.rglob("*.vmdk") if p.is_file()]
        return sorted(found)

    def _store(self) -> SqliteStore:
        return SqliteStore(self.config.store_path)

    def rows(self) -> list[tuple[str, str, str, int, str]]:
        """(vmgroup id, datastore url, name, size MB, state) of every volume row."""
        store = self._store()
        try:
            return sorted(
                (r.vmgroup_id, r.datastore_url, r.name, r.size_mb, r.state.value)
                for r in store.list_volumes(states=tuple(VolumeState))
            )
        finally:
            store.close()

    def usage(self, group: str, datastore: str = "local1") -> int:
        """MB a vmgroup holds on a datastore, as the quota counts it (rows, reservations included)."""
        group_id = self.group_id(group)
        store = self._store()
        try:
            return store.usage_mb(group_id, self.datastore_dir(datastore).as_uri())
        finally:
            store.close()


async def vm_refused(call: Awaitable[Any]) -> BrokerError:
    """A VM's call that the broker must refuse (bounded: the client's deadlines, and this)."""
    with pytest.raises(BrokerError) as info:
        await asyncio.wait_for(call, VM_CALL_TIMEOUT_S)
    return info.value


def start_broker_process(
    config_path: Path, log_path: Path, admin_socket: Path, env: dict[str, str], *args: str, label: str = "broker"
) -> subprocess.Popen[bytes]:
    """`vdvs broker --config`, its output appended to ``log_path``; returns once the admin socket answers.

    A broker that exits first fails the test with its log; one that never answers is stopped, then fails it.
    """
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [VDVS, "broker", "--config", str(config_path), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not broker_running(admin_socket):
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{label} exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            stop_process(proc, STOP_TIMEOUT_S)
            raise AssertionError(f"{label} did not open {admin_socket} in {START_TIMEOUT_S}s")
        time.sleep(0.02)
    return proc


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VDVS_ADMIN_SOCKET"}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env
