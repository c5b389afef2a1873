"""A broker run as a real subprocess (`vdvs config init` + `vdvs broker`, testkit's BrokerProcess), the
`vdvs` CLI run against it as a subprocess, and enrolled VMs talking to it over mTLS with the plugin's
gRPC client.

Two datastores, local1 and local2; every VM lives on local1 (its `_VM_DS`) except ``vmds2``,
which lives on local2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess
from testkit.system import Result
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.store import SqliteStore

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
VMGROUP_COLUMNS = [
    "Uuid",
    "Name",
    "Description",
    "Default_datastore",
    "VM_list",
    "Labels",
    "Max_volumes",
    "Cascade_delete",
]
ACCESS_COLUMNS = ["Datastore", "Allow_create", "Max_volume_size", "Total_size", "Volume_count", "Alert_at"]
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


class Tenv(BrokerProcess):
    """One broker subprocess with its state in ``root``."""

    def __init__(self, root: Path) -> None:
        config = make_config(root)
        config.local_vm_datastores = {VM_UUIDS["vmds2"]: "local2"}
        super().__init__(config, root)
        self.root = root
        self.clients: list[BrokerClient] = []

    def init(self, state_dir: Path | None = None) -> Result:
        """`vdvs config init` on a config file whose admin socket and datastores are in ``root``."""
        return super().init(state_dir or self.root)

    # ------------------------------------------------------------------ the vdvs command
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
    async def vm(self, name: str, labels: tuple[str, ...] = ()) -> Vm:
        """Enroll ``name`` with `vdvs vm enroll` (``--label`` each of ``labels``) and give it a
        VolumeService client (mTLS)."""
        out = self.root / "bundles" / name
        self.ok("vm", "enroll", name, "--uuid", VM_UUIDS[name], "--out", str(out), *(f"--label={x}" for x in labels))
        client = self.client(out, op_timeout_s=60)
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
