"""A Docker VM that hangs (powered on; its dockerd and plugin stopped) keeps its volume: swarm's new
task elsewhere cannot mount it until an admin fences the VM (`vdvs vm fence`), which powers it off
through vCenter; then the takeover follows. `vdvs volume detach` takes a volume off a VM directly.
Both refuse a powered-on VM without --force, and say why; both are in the audit trail."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from testkit.fleet import Fleet
from testkit.fleet_swarm import create_service, remove_service, wait_task
from testkit.vsphere_sim import Inspector

pytestmark = [pytest.mark.docker, pytest.mark.fleet]


def audit(fleet: Fleet, action: str) -> list[tuple[str, str]]:
    """(outcome, target) of the audit records of ``action``, oldest first."""
    assert fleet.broker is not None
    return [(r["outcome"], r["target"]) for r in fleet.broker.js("audit", "ls", "--action", action)]


def power_state(fleet: Fleet, uuid: str) -> str:
    assert fleet.sim is not None
    si = fleet.sim.connect()
    try:
        return str(si.content.searchIndex.FindByUuid(None, uuid, True).runtime.powerState)
    finally:
        si.content.sessionManager.Logout()


def test_fencing_a_hung_vm_lets_its_task_move(fleet: Fleet) -> None:
    assert fleet.broker is not None
    payload = secrets.token_hex(8)
    create_service(fleet, "fl-hang", "db-hang", payload)
    try:
        first = wait_task(fleet, "fl-hang", payload)
        hung = first.node
        hung.power_cut()  # the guest hangs: nothing of it answers, but vCenter still has it powered on
        try:
            refused = fleet.broker.run("vm", "fence", "--vm", hung.vm.name)
            assert refused.rc != 0
            assert (
                refused.err.strip()
                .splitlines()[-1]
                .endswith(
                    f"VM {hung.vm.name} is powered on: fencing powers it off and stops everything on it; "
                    "if it hangs, use --force"
                )
            ), refused.err
            assert power_state(fleet, hung.vm.uuid) == "poweredOn"

            fenced = fleet.broker.js("vm", "fence", "--vm", hung.vm.name, "--force")
            assert (fenced["vm_name"], fenced["power_state"]) == (hung.vm.name, "poweredOn")
            assert [v.split("@")[0] for v in fenced["detached"]] == ["db-hang"]
            assert power_state(fleet, hung.vm.uuid) == "poweredOff"

            second = wait_task(fleet, "fl-hang", payload, exclude=hung)
            assert second.node is not hung
            assert [outcome for outcome, _ in audit(fleet, "vm.fence")][-2:] == ["refused", "success"], audit(
                fleet, "vm.fence"
            )
        finally:
            fleet.restore(hung)
    finally:
        remove_service(fleet, "fl-hang", "db-hang")


def test_volume_detach_refuses_a_running_holder_without_force(fleet: Fleet, tmp_path: Path) -> None:
    """The fourth VM of vcsim (no Docker node) holds a volume through its own certificate."""
    assert fleet.broker is not None and fleet.sim is not None
    holder = fleet.sim.vms[3]
    bundle = fleet.broker.enroll(holder.name, holder.uuid, tmp_path / "bundle")

    async def attach() -> str:
        client = fleet.broker.client(bundle)  # type: ignore[union-attr]
        try:
            created = await client.create("held", {"size": "20mb"}, ["ext4"])
            await client.attach("held")
            return str(created.full_name)
        finally:
            await client.close()

    full = asyncio.run(attach())
    try:
        refused = fleet.broker.run("volume", "detach", "--volume", full)
        assert refused.rc != 0
        assert (
            refused.err.strip()
            .splitlines()[-1]
            .endswith(
                f"Volume {full} is attached to VM {holder.name}, which is powered on and may be writing to it: "
                "fence the VM first (vdvs vm fence), or use --force"
            )
        ), refused.err
        done = fleet.broker.js("volume", "detach", "--volume", full, "--force")
        assert (done["volume"], done["vm_name"], done["power_state"]) == (full, holder.name, "poweredOn")
        inspector = Inspector(fleet.sim)
        try:
            assert inspector.disks(holder.uuid) == []  # vCenter's view: the disk is off the VM
        finally:
            inspector.close()
        again = fleet.broker.run("volume", "detach", "--volume", full, "--force")
        assert again.rc != 0 and f"Volume {full} is not attached to any VM" in again.err
        assert [o for o, _ in audit(fleet, "volume.detach")][-3:] == ["refused", "success", "refused"]
    finally:
        fleet.broker.run("volume", "detach", "--volume", full, "--force")
        fleet.manager.docker("volume", "rm", full)
