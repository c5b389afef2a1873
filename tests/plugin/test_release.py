"""The last Unmount releases the volume: the broker may keep the disk attached to this VM (idle) so that
the next Mount here skips the attach, and a broker without Release gets vDVS's Detach instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, mount_id
from vdvs.plugin import fs

pytestmark = needs_root


async def status_of(plugin: Plugin, name: str) -> str:
    return (await plugin.ok("Get", Name=name))["Volume"]["Status"]["status"]


@pytest.fixture
async def broker_env(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    """The broker as deployed: idle attachments on (the plugin suite's other tests run with vDVS's
    detach at the last unmount, so that "nothing attached" is what their end state shows)."""
    env = await start_broker_env(short_tmp)
    try:
        yield env
    finally:
        await env.close()


async def test_last_unmount_keeps_the_volume_idle_and_the_next_mount_reuses_it(
    plugin: Plugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container restart: the last Unmount leaves the disk attached, idle; the next Mount gets it
    back with no attach, and this plugin process, which knows its filesystem, does not probe it."""
    probed: list[str] = []
    real_probe = fs.probe

    async def probe(device: str) -> str | None:
        probed.append(device)
        return await real_probe(device)

    monkeypatch.setattr(fs, "probe", probe)
    await plugin.create("vol")
    mid = mount_id()
    point = await plugin.mount("vol", mid)
    (point / "kept").write_text("written at the first mount")
    [device] = plugin.loops()
    await plugin.unmount("vol", mid)
    assert plugin.mounts() == [] and plugin.loops() == [device]  # unmounted, still attached
    assert await status_of(plugin, "vol") == "idle"
    assert plugin.state()["volumes"] == {}

    mid = mount_id()
    point = await plugin.mount("vol", mid)
    assert (point / "kept").read_text() == "written at the first mount"
    assert plugin.loops() == [device]
    assert probed == [device]  # probed once, when it was blank; not when reused
    assert await status_of(plugin, "vol") == "attached"
    await plugin.unmount("vol", mid)
    await plugin.ok("Remove", Name="vol")  # a remove detaches the idle disk first
    assert plugin.loops() == [] and plugin.env.rows() == []
