"""`vdvs vm enroll --folder /DC/vm/FOLDER --out-dir DIR` on vcsim: every VM of an inventory folder is
enrolled in one command, one bundle directory per VM name, each bundle good for calls over mTLS;
VMs outside the folder are left alone, and a folder that does not exist is one line of error."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from testkit.broker_process import VDVS, cli_env
from testkit.system import Result
from testkit.vsphere_env import VsEnv
from tests.broker.helpers import FILESYSTEMS, bounded
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

CLI_TIMEOUT_S = 60.0


async def vdvs(vs: VsEnv, *args: str) -> Result:
    """The real CLI against this broker's admin socket (the broker serves on this event loop)."""
    argv = [VDVS, *args, "--admin-socket", str(vs.env.admin_socket)]
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def vpx_only(vs: VsEnv) -> None:
    if vs.sim.mode == "esx":
        pytest.skip("standalone ESX has one VM folder (no folders to make or move VMs into)")


async def test_every_vm_of_a_folder_is_enrolled_with_a_bundle_of_its_own(vs: VsEnv, tmp_path: Path) -> None:
    vpx_only(vs)
    inside, outside = vs.sim.vms[:2], vs.sim.vms[2:]
    for vm in inside:
        vs.insp.move(vm.uuid, "docker")
    out_dir = tmp_path / "bundles"

    res = await vdvs(vs, "vm", "enroll", "--folder", "/DC0/vm/docker", "--out-dir", str(out_dir), "--json")
    assert res.rc == 0, res
    rows = json.loads(res.out)
    # the folder's VMs, each under the name and BIOS uuid vCenter has; none of the VMs outside it
    assert [(r["vm"], r["uuid"], r["bundle"], r["error"]) for r in rows] == [
        (vm.name, vm.uuid, str(out_dir / vm.name), "") for vm in sorted(inside, key=lambda v: v.name)
    ]
    assert len({r["serial"] for r in rows}) == 2 and all(rows[i]["serial"] for i in range(2))
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(vm.name for vm in inside)
    for vm in inside:
        assert {"ca.pem", "vm.key", "vm.pem"} <= {p.name for p in (out_dir / vm.name).iterdir()}
    assert not {vm.uuid for vm in outside} & {r["uuid"] for r in rows}

    for vm in inside:  # each bundle is that VM's: it creates a volume over mTLS
        bundle_dir = out_dir / vm.name
        client = BrokerClient(vs.env.address, read_bundle(bundle_dir), bundle_dir=str(bundle_dir), retry_budget_s=1.0)
        vs.env.clients.append(client)
        await bounded(client.create(f"v-{vm.name}", {}, FILESYSTEMS))
    volumes = json.loads((await vdvs(vs, "volume", "ls", "-c", "volume,created-by", "--json")).out)
    assert sorted((v["volume"], v["created-by"]) for v in volumes) == sorted(
        (f"v-{vm.name}", vm.name) for vm in inside
    ), volumes


async def test_a_folder_that_does_not_exist_is_one_line_of_error(vs: VsEnv, tmp_path: Path) -> None:
    folder = "/DC0/vm/nosuch" if vs.sim.mode == "vpx" else "/ha-datacenter/vm/nosuch"
    res = await vdvs(vs, "vm", "enroll", "--folder", folder, "--out-dir", str(tmp_path / "b"))
    assert res.rc != 0
    assert res.err.splitlines() == [
        f"ERROR:Cannot enroll the VMs of folder {folder}: no inventory folder {folder} (give it as /DC/vm/FOLDER)"
    ]
    assert not (tmp_path / "b").exists()
