"""`vdvs plugin join` on vSphere (vcsim): the broker checks the VM's BIOS UUID against the inventory and
makes the caller prove it is that VM by reading back the one-time nonce written into its
``guestinfo.vdvs.nonce``.

vcsim runs no guest, so there is no open-vm-tools to read guestinfo from inside the VM: these tests
hand `vdvs plugin join` (its hidden ``--rpctool`` option) a small script standing in for
``vmware-rpctool`` that reads the nonce THROUGH THE vSphere API (pyVmomi against vcsim), in place of
the guest. Everything else is real: the `vdvs` commands as subprocesses, the broker's join listener
(TLS, CA pinned by its SHA-256), the vsphere backend writing extraConfig, the bundle used over mTLS.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testkit.broker_process import VDVS, cli_env
from testkit.system import Result
from testkit.vsphere_env import VsEnv, start_vsphere_env
from testkit.vsphere_sim import DATASTORE, USER, Inspector, Sim, SimVm
from tests.broker.helpers import FILESYSTEMS, admin, bounded
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle
from vdvs.proto import admin_pb2

CLI_TIMEOUT_S = 60.0
NONCE_KEY = "guestinfo.vdvs.nonce"

# Stands in for `vmware-rpctool "info-get guestinfo.vdvs.nonce"` run in the guest: vcsim has no guest,
# so it reads the VM's extraConfig through the vSphere API (the last value of a key is the one in force).
API_RPCTOOL = """#!{python}
import ssl
import sys

from pyVim.connect import Disconnect, SmartConnect

if sys.argv[1:] != ["info-get {key}"]:
    sys.exit("unknown request " + repr(sys.argv[1:]))
password = open({password_file!r}).read().strip()
context = ssl.create_default_context(cafile={ca_file!r})
si = SmartConnect(host={host!r}, port={port}, user={user!r}, pwd=password, sslContext=context)
try:
    vm = si.content.searchIndex.FindByUuid(None, {vm_uuid!r}, True)
    values = {{str(o.key): str(o.value) for o in vm.config.extraConfig or []}}
finally:
    Disconnect(si)
if not values.get("{key}"):
    sys.exit("No value found")
print(values["{key}"])
"""

WRONG_RPCTOOL = """#!/bin/sh
echo not-the-nonce-the-broker-wrote
"""


def script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def api_rpctool(directory: Path, sim: Sim, vm: SimVm) -> Path:
    """The stand-in for the guest's vmware-rpctool of ``vm``: it reads the nonce through the vSphere API."""
    text = API_RPCTOOL.format(
        python=sys.executable, key=NONCE_KEY, password_file=str(sim.password_file), ca_file=str(sim.ca_file),
        host=sim.host, port=sim.port, user=USER, vm_uuid=vm.uuid,
    )  # fmt: skip
    return script(directory / f"rpctool-{vm.name}", text)


def uuid_file(directory: Path, name: str, vm_uuid: str) -> Path:
    """What /sys/class/dmi/id/product_uuid shows in that VM (SMBIOS: capitals)."""
    path = directory / f"{name}.product_uuid"
    path.write_text(vm_uuid.upper() + "\n")
    return path


async def run(argv: list[str]) -> Result:
    """A subprocess off the event loop (the broker serves on this very loop)."""
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def vdvs_admin(vs: VsEnv, *args: str) -> Any:
    """An admin command against this broker's admin socket, its --json output parsed."""
    res = await run([VDVS, *args, "--json", "--admin-socket", str(vs.env.admin_socket)])
    assert res.rc == 0, res
    return json.loads(res.out)


async def join(vs: VsEnv, made: dict[str, Any], out: Path, product_uuid: Path, rpctool: Path) -> Result:
    return await run(
        [VDVS, "plugin", "join", "--broker", vs.env.broker.join_address, "--token", made["token"],
         "--ca-sha256", made["ca_sha256"], "--out", str(out), "--uuid-file", str(product_uuid),
         "--rpctool", str(rpctool)]
    )  # fmt: skip


async def members(vs: VsEnv, group: str) -> list[tuple[str, str]]:
    return [(m["uuid"], m["name"]) for m in await vdvs_admin(vs, "vmgroup", "vm", "ls", "--name", group)]


async def web_group(vs: VsEnv) -> admin_pb2.Vmgroup:
    request = admin_pb2.VmgroupCreateRequest(name="web", default_datastore=DATASTORE)
    return await admin(vs.env, "VmgroupCreate", request)


@pytest.fixture
async def vs(short_tmp: Path, sim: Sim, insp: Inspector) -> AsyncIterator[VsEnv]:
    """The broker on vcsim, serving joins on ``[broker] join_listen`` (a free port of 127.0.0.1)."""
    env = await start_vsphere_env(short_tmp, sim, insp, join_listen="127.0.0.1:0")
    try:
        yield env
    finally:
        await env.close()


async def test_a_vcsim_vm_joins_proving_itself_by_the_nonce_read_through_the_api_in_place_of_the_guest(
    vs: VsEnv, tmp_path: Path
) -> None:
    """The nonce is read through the vSphere API in place of the guest (vcsim runs no open-vm-tools)."""
    web = await web_group(vs)
    vm = vs.sim.vms[0]
    made = await vdvs_admin(vs, "vm", "token", "create", "--vmgroup", "web")
    assert made["join_listen"] == vs.env.broker.join_address
    out = tmp_path / "bundle"
    res = await join(vs, made, out, uuid_file(tmp_path, vm.name, vm.uuid), api_rpctool(tmp_path, vs.sim, vm))
    assert res.rc == 0, res
    # the broker names the VM as vCenter does (no --name given)
    assert res.out.startswith(f"Joined vmgroup web as VM {vm.name}: certificate "), res
    assert await members(vs, "web") == [(vm.uuid, vm.name)]
    assert vs.insp.extra_config(vm.uuid)[NONCE_KEY] == ""  # the nonce has served: cleared from the VM

    client = BrokerClient(vs.env.address, read_bundle(out), bundle_dir=str(out), retry_budget_s=1.0)
    vs.env.clients.append(client)
    await bounded(client.create("joined", {}, FILESYSTEMS))
    assert await bounded(client.list_names()) == [f"joined@{DATASTORE}"]
    assert vs.file("joined.vmdk", web.id).exists()  # on datastore1, in web's folder


async def test_a_uuid_not_in_the_inventory_and_a_wrong_nonce_are_refused(vs: VsEnv, tmp_path: Path) -> None:
    """The nonce is read through the vSphere API in place of the guest (vcsim runs no open-vm-tools)."""
    await web_group(vs)
    vm = vs.sim.vms[1]
    made = await vdvs_admin(vs, "vm", "token", "create", "--vmgroup", "web", "--uses", "1")
    rpctool = api_rpctool(tmp_path, vs.sim, vm)

    stranger = str(uuid.uuid4())
    unknown = await join(vs, made, tmp_path / "b1", uuid_file(tmp_path, "stranger", stranger), rpctool)
    assert unknown.rc == 1, unknown
    assert unknown.err.strip() == f"Error: Join refused: no VM with BIOS UUID {stranger} in the vSphere inventory"

    product_uuid = uuid_file(tmp_path, vm.name, vm.uuid)
    wrong = await join(vs, made, tmp_path / "b2", product_uuid, script(tmp_path / "wrong-rpctool", WRONG_RPCTOOL))
    assert wrong.rc == 1, wrong
    assert wrong.err.strip() == (
        f"Error: Join refused: the nonce does not match the one written into VM {vm.name}'s guestinfo.vdvs.nonce "
        "(or it expired): join again"
    )
    assert not (tmp_path / "b1" / "vm.pem").exists() and not (tmp_path / "b2" / "vm.pem").exists()
    assert await members(vs, "web") == []

    # neither refusal used the token's one use: the VM, reading its nonce, joins with it
    again = await join(vs, made, tmp_path / "b3", product_uuid, rpctool)
    assert again.rc == 0, again
    assert await members(vs, "web") == [(vm.uuid, vm.name)]
    joins = await vdvs_admin(vs, "audit", "ls", "--action", "vm.join")
    assert sorted(r["outcome"] for r in joins) == ["refused", "refused", "success"]
