"""`vdvs vm check --vm NAME [--fix]` on vcsim: a VM without disk.EnableUUID=TRUE is reported, fixed
only while powered off (a running VM is refused in one line, and left unchanged); and the broker
warns once per such VM when it attaches a volume to it."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess

import pytest

from testkit.broker_process import VDVS, cli_env
from testkit.system import Result
from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import ENABLE_UUID
from tests.broker.helpers import FILESYSTEMS, bounded

CLI_TIMEOUT_S = 60.0
MISSING_EXIT = 3  # `vm check` found a setting missing (and did not fix it)


async def vdvs(vs: VsEnv, *args: str) -> Result:
    """The real CLI against this broker's admin socket (the broker serves on this event loop)."""
    argv = [VDVS, *args, "--admin-socket", str(vs.env.admin_socket)]
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def test_a_vm_without_enable_uuid_is_reported_and_fixed_only_while_powered_off(vs: VsEnv) -> None:
    vm, _ = await vs.vm_client(0)
    assert ENABLE_UUID not in vs.insp.extra_config(vm.uuid)

    found = await vdvs(vs, "vm", "check", "--vm", vm.name)
    assert found.rc == MISSING_EXIT, found
    lines = found.out.splitlines()
    assert lines[:3] == [f"VM: {vm.name} ({vm.uuid})", "Power: poweredOn", "disk.EnableUUID: (not set) [needs TRUE]"]
    assert lines[3].startswith("Result: disk.EnableUUID is not set: the guest finds volumes by PCI path and unit only")

    refused = await vdvs(vs, "vm", "check", "--vm", vm.name, "--fix")
    assert refused.rc == 2, refused
    assert refused.err.strip().splitlines() == [
        f"ERROR:VM {vm.name} is poweredOn: disk.EnableUUID is read at power-on, so it is set only while the VM is "
        f"powered off (power it off, then run vdvs vm check --vm {vm.name} --fix)"
    ]
    assert ENABLE_UUID not in vs.insp.extra_config(vm.uuid)  # nothing was changed

    vs.insp.power(vm.uuid, on=False)
    fixed = await vdvs(vs, "vm", "check", "--uuid", vm.uuid, "--fix", "--json")
    assert fixed.rc == 0, fixed
    reply = json.loads(fixed.out)
    assert reply["power_state"] == "poweredOff"
    assert reply["settings"] == [{"key": ENABLE_UUID, "want": "TRUE", "have": "", "ok": True, "fixed": True}]
    assert vs.insp.extra_config(vm.uuid)[ENABLE_UUID] == "TRUE"  # in the VM's configuration, as vCenter has it

    vs.insp.power(vm.uuid, on=True)
    again = await vdvs(vs, "vm", "check", "--vm", vm.name)
    assert again.rc == 0, again
    assert "disk.EnableUUID: TRUE [ok]" in again.out.splitlines()
    fix_again = await vdvs(vs, "vm", "check", "--vm", vm.name, "--fix")  # nothing to set: no power-off needed
    assert fix_again.rc == 0 and "Result: OK: disk.EnableUUID=TRUE" in fix_again.out, fix_again


async def test_vm_check_of_a_vm_never_enrolled_is_refused(vs: VsEnv) -> None:
    res = await vdvs(vs, "vm", "check", "--vm", "no-such-vm")
    assert res.rc == 2 and "no-such-vm" in res.err and "Traceback" not in res.err, res


async def test_attach_warns_once_per_vm_without_enable_uuid(vs: VsEnv, caplog: pytest.LogCaptureFixture) -> None:
    vm0, c0 = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    vs.insp.set_extra_config(vm1.uuid, ENABLE_UUID, "true")  # vSphere reads any case
    caplog.set_level(logging.WARNING, logger="vdvs.broker.vsphere")
    for client, names in ((c0, ["a", "b"]), (c1, ["c"])):
        for name in names:
            await bounded(client.create(name, {}, FILESYSTEMS))
            reply = await bounded(client.attach(name))
            assert reply.device.kind == "scsi"
    warnings = [r.getMessage() for r in caplog.records if ENABLE_UUID in r.getMessage()]
    assert warnings == [
        f"VM {vm0.name} has no {ENABLE_UUID}=TRUE: its guest finds volumes by PCI path and unit, without the "
        f"disk's WWN (power it off and run: vdvs vm check --vm {vm0.name} --fix)"
    ]
