"""Two Docker hosts (VMs), one broker: a volume is attached to at most one VM at a time."""

from __future__ import annotations

from testkit.broker_env import BrokerEnv, EnrolledVm
from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, StartPlugin, mount_id

pytestmark = needs_root


async def status_of(plugin: Plugin, name: str) -> dict[str, object]:
    return (await plugin.ok("Get", Name=name))["Volume"]["Status"]


async def test_volume_attached_to_another_vm_is_refused_then_handed_over(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    vm2 = await broker_env.enroll("vm2")
    host1 = await start_plugin(vm1, tag="h1")
    host2 = await start_plugin(vm2, tag="h2")
    assert host1.config.mount_root != host2.config.mount_root

    await host1.create("handover")
    assert [v["Name"] for v in (await host2.ok("List"))["Volumes"]] == ["handover@local1"]
    a = mount_id()
    point1 = await host1.mount("handover", a)
    (point1 / "from-vm1.txt").write_text("written on vm1\n")
    [device] = host1.loops()

    b = mount_id()
    err = await host2.fail("Mount", Name="handover", ID=b)
    assert err.startswith("Failed to attach volume handover@local1: disk "), err
    assert err.endswith("/handover.vmdk already attached to VM=vm1"), err
    assert host2.mounts() == []
    assert not host2.config.state_file.exists() or host2.state()["volumes"] == {}
    # vm1 keeps its mount and its device: vm2's failure released nothing of vm1's
    assert host1.mounts() == [str(point1)]
    assert host1.loops() == [device]
    status = await status_of(host2, "handover")
    assert (status["status"], status["attached to VM"]) == ("attached", "vm1")

    err = await host2.fail("Remove", Name="handover")
    assert err == "Failed to remove volume handover, in use by VM = vm1."
    assert len(broker_env.rows()) == 1

    await host1.unmount("handover", a)
    assert host1.mounts() == [] and host1.loops() == []
    assert (await status_of(host2, "handover"))["status"] == "detached"

    point2 = await host2.mount("handover", b)
    assert point2 == host2.config.mount_root / "handover@local1"
    assert (point2 / "from-vm1.txt").read_text() == "written on vm1\n"
    status = await status_of(host1, "handover")
    assert (status["status"], status["attached to VM"]) == ("attached", "vm2")
    err = await host1.fail("Mount", Name="handover", ID=mount_id())
    assert err.endswith("already attached to VM=vm2"), err
    assert host1.mounts() == []

    await host2.unmount("handover", b)
    assert host2.mounts() == [] and host2.loops() == []
    await host1.ok("Remove", Name="handover")
    assert broker_env.rows() == [] and broker_env.disk_files() == []
