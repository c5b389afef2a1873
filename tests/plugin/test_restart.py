"""Plugin restart: mount counts come back from the state file and the host's mount table."""

from __future__ import annotations

import json
import socket

import pytest

from testkit.broker_env import BrokerEnv, EnrolledVm
from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, StartPlugin, mount_id, sh
from vdvs.plugin.server import PluginServer, PluginStartError

pytestmark = needs_root


async def status_of(plugin: Plugin, name: str) -> str:
    return (await plugin.ok("Get", Name=name))["Volume"]["Status"]["status"]


async def mounted_by(start_plugin: StartPlugin, vm: EnrolledVm, name: str, *ids: str) -> Plugin:
    plugin = await start_plugin(vm)
    await plugin.create(name)
    for mid in ids:
        await plugin.mount(name, mid)
    (plugin.mountpoint(f"{name}@local1") / "file").write_text("before restart\n")
    return plugin


async def test_counts_survive_restart(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    a, b = mount_id(), mount_id()
    old = await mounted_by(start_plugin, vm1, "keep", a, b)
    point = old.mountpoint("keep@local1")
    await old.stop()  # stopping the plugin must not unmount anything
    assert old.mounts() == [str(point)]
    assert len(old.loops()) == 1
    assert not old.config.socket.exists()
    assert old.state()["volumes"]["keep@local1"]["ids"] == [a, b]

    new = await start_plugin(vm1)
    assert new.server.recovery == []
    assert new.mounts() == [str(point)]
    assert new.state()["volumes"]["keep@local1"]["ids"] == [a, b]
    assert await status_of(new, "keep") == "attached"
    assert await new.mount("keep", a) == point  # a repeated Mount after restart: still counted once

    await new.unmount("keep", a)
    assert new.mounts() == [str(point)]
    assert (point / "file").read_text() == "before restart\n"
    await new.unmount("keep", b)
    assert new.mounts() == [] and new.loops() == []
    assert await status_of(new, "keep") == "detached"


async def test_recovery_remounts_a_volume_unmounted_behind_its_back(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    a = mount_id()
    old = await mounted_by(start_plugin, vm1, "lost", a)
    point = old.mountpoint("lost@local1")
    await old.stop()
    assert sh("umount", str(point)).returncode == 0
    assert old.mounts() == []

    new = await start_plugin(vm1)
    assert new.server.recovery == ["remounted lost@local1 for 1 holder(s)"]
    assert new.mounts() == [str(point)]
    assert (point / "file").read_text() == "before restart\n"  # same filesystem, not reformatted
    assert new.state()["volumes"]["lost@local1"]["ids"] == [a]
    await new.unmount("lost", a)
    assert new.mounts() == [] and new.loops() == []
    assert await status_of(new, "lost") == "detached"


async def test_recovery_releases_a_recorded_mount_with_no_holders(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    """An entry kept with no holders (its last unmount failed) is released at the next start."""
    old = await mounted_by(start_plugin, vm1, "stale", mount_id())
    await old.stop()
    state = old.state()
    state["volumes"]["stale@local1"]["ids"] = []
    old.config.state_file.write_text(json.dumps(state))

    new = await start_plugin(vm1)
    assert new.server.recovery == ["released stale@local1 (no holders left)"]
    assert new.mounts() == [] and new.loops() == []
    assert new.state()["volumes"] == {}
    assert await status_of(new, "stale") == "detached"


async def test_recovery_adopts_a_mount_nobody_recorded(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    """State file lost: a mount under mount_root is adopted (kept mounted, held by nobody known)
    until Docker mounts and unmounts it again."""
    old = await mounted_by(start_plugin, vm1, "orphan", mount_id())
    point = old.mountpoint("orphan@local1")
    await old.stop()
    old.config.state_file.unlink()
    [device] = old.loops()

    new = await start_plugin(vm1)
    assert new.server.recovery == [f"adopted orphan@local1 mounted at {point} with no record of its holders"]
    assert new.mounts() == [str(point)]
    recorded = new.state()["volumes"]["orphan@local1"]
    assert (recorded["adopted"], recorded["ids"]) == (True, [])
    assert (recorded["device"], recorded["mountpoint"]) == (device, str(point))
    c = mount_id()
    assert await new.mount("orphan", c) == point
    assert new.state()["volumes"]["orphan@local1"]["ids"] == [c]
    assert (point / "file").read_text() == "before restart\n"
    await new.unmount("orphan", c)
    assert new.mounts() == [] and new.loops() == []
    assert await status_of(new, "orphan") == "detached"


async def test_adopted_mount_stays_adopted_across_another_restart(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    """Adoption means "someone we cannot name may use this": a second restart with nothing
    changed must not pull the filesystem (and the disk) from under those users."""
    old = await mounted_by(start_plugin, vm1, "twice", mount_id())
    point = old.mountpoint("twice@local1")
    await old.stop()
    old.config.state_file.unlink()
    first = await start_plugin(vm1)
    assert first.server.recovery == [f"adopted twice@local1 mounted at {point} with no record of its holders"]
    await first.stop()

    second = await start_plugin(vm1)
    assert second.mounts() == [str(point)]
    assert len(second.loops()) == 1
    assert second.state()["volumes"]["twice@local1"]["adopted"] is True
    assert await status_of(second, "twice") == "attached"


async def test_repeated_mount_after_failed_recovery_is_counted_once(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    """Host rebooted, broker not reachable while the plugin starts: the remount fails and the
    holder stays recorded. dockerd then re-sends Mount with the same ID (it keeps a mount
    point's ID until its Unmount): that must not count the ID twice."""
    a = mount_id()
    old = await mounted_by(start_plugin, vm1, "reboot", a)
    point = old.mountpoint("reboot@local1")
    await old.stop()
    assert sh("umount", str(point)).returncode == 0
    await broker_env.broker.stop()

    new = await start_plugin(vm1)
    [action] = new.server.recovery
    assert action.startswith("could not remount reboot@local1 for 1 holder(s): ")
    assert "is unreachable" in action
    assert new.mounts() == []
    await broker_env.restart()
    await new.wait_reachable()

    assert await new.mount("reboot", a) == point
    assert new.mounts() == [str(point)]
    assert new.state()["volumes"]["reboot@local1"]["ids"] == [a]
    await new.unmount("reboot", a)
    assert new.mounts() == [] and new.loops() == []


async def test_start_replaces_a_stale_socket(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    old = await start_plugin(vm1)
    await old.stop()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # what a killed plugin leaves
    stale.bind(str(old.config.socket))
    stale.close()
    new = await start_plugin(vm1)
    assert (await new.post("/Plugin.Activate")).body == {"Implements": ["VolumeDriver"]}


async def test_start_refuses_a_socket_in_use(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    running = await start_plugin(vm1)
    with pytest.raises(PluginStartError, match="another process is already serving"):
        await PluginServer(running.config).start()
    assert (await running.post("/Plugin.Activate")).status == 200


async def test_a_state_file_from_before_short_names_still_loads(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    """mounts.json written before the plugin kept each volume's short name: the plugin starts on it
    with nothing to recover, and learns the short name at the next Mount."""
    a = mount_id()
    old = await mounted_by(start_plugin, vm1, "legacy", a)
    point = old.mountpoint("legacy@local1")
    await old.stop()
    state = old.state()
    del state["volumes"]["legacy@local1"]["short_name"]
    old.config.state_file.write_text(json.dumps(state))

    new = await start_plugin(vm1)
    assert new.server.recovery == []
    assert new.mounts() == [str(point)]
    b = mount_id()
    assert await new.mount("legacy", b) == point
    recorded = new.state()["volumes"]["legacy@local1"]
    assert (recorded["ids"], recorded["short_name"]) == ([a, b], "legacy")
    await new.unmount("legacy", a)
    await new.unmount("legacy", b)
    assert new.mounts() == [] and new.loops() == []
    assert await status_of(new, "legacy") == "detached"


async def test_an_unreadable_state_file_stops_the_start_with_its_name(
    start_plugin: StartPlugin, vm1: EnrolledVm
) -> None:
    old = await start_plugin(vm1)
    await old.stop()
    old.config.state_file.parent.mkdir(parents=True, exist_ok=True)
    old.config.state_file.write_text("{not json")
    with pytest.raises(PluginStartError) as err:
        await PluginServer(old.config).start()
    assert str(err.value).startswith(f"mount state {old.config.state_file} is unreadable (")
    assert str(err.value).endswith("); move it aside to start")
    assert not old.config.socket.exists()
