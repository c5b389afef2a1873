"""Mount counts keyed by Docker's per-mount ID (64 hex, random per mount point)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, mount_id
from vdvs.plugin.host import Host
from vdvs.plugin.mounts import MountTable

pytestmark = needs_root


def holders(plugin: Plugin, full_name: str) -> list[str]:
    return plugin.state()["volumes"][full_name]["ids"]


async def test_two_ids_share_one_mount_until_the_last_unmount(plugin: Plugin) -> None:
    await plugin.create("shared")
    a, b = mount_id(), mount_id()
    point = await plugin.mount("shared", a)
    assert await plugin.mount("shared", b) == point
    assert plugin.mounts() == [str(point)]
    assert len(plugin.loops()) == 1
    assert holders(plugin, "shared@local1") == [a, b]
    (point / "f").write_text("1")

    await plugin.unmount("shared", a)
    assert plugin.mounts() == [str(point)]  # b still holds it
    assert len(plugin.loops()) == 1
    assert (point / "f").read_text() == "1"
    assert holders(plugin, "shared@local1") == [b]

    await plugin.unmount("shared", b)
    assert plugin.mounts() == []
    assert plugin.loops() == []
    assert plugin.state()["volumes"] == {}
    assert (await plugin.ok("Get", Name="shared"))["Volume"]["Status"]["status"] == "detached"


async def test_repeated_mount_with_same_id_is_counted_once(plugin: Plugin) -> None:
    await plugin.create("again")
    a = mount_id()
    point = await plugin.mount("again", a)
    assert await plugin.mount("again", a) == point
    assert await plugin.mount("again@local1", a) == point
    assert holders(plugin, "again@local1") == [a]
    await plugin.unmount("again", a)  # one Unmount undoes it
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_unmount_with_unknown_id_keeps_it_mounted(plugin: Plugin) -> None:
    await plugin.create("held")
    a = mount_id()
    point = await plugin.mount("held", a)
    await plugin.unmount("held", mount_id())  # not ours: answered, but nothing released
    assert plugin.mounts() == [str(point)]
    assert len(plugin.loops()) == 1
    assert holders(plugin, "held@local1") == [a]
    await plugin.unmount("held", a)
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_repeated_unmount_is_harmless(plugin: Plugin) -> None:
    await plugin.create("twice")
    a = mount_id()
    await plugin.mount("twice", a)
    await plugin.unmount("twice", a)
    await plugin.unmount("twice", a)
    await plugin.unmount("never-mounted", mount_id())
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_remove_while_mounted_is_refused(plugin: Plugin) -> None:
    await plugin.create("busy")
    a, b = mount_id(), mount_id()
    await plugin.mount("busy", a)
    await plugin.mount("busy", b)
    err = await plugin.fail("Remove", Name="busy")
    assert err == "Remove failure - volume is still mounted.  volume=busy, refcount=2"
    await plugin.unmount("busy", a)
    err = await plugin.fail("Remove", Name="busy@local1")
    assert err == "Remove failure - volume is still mounted.  volume=busy@local1, refcount=1"
    assert (await plugin.ok("Get", Name="busy"))["Volume"]["Status"]["status"] == "attached"
    assert len(plugin.env.rows()) == 1
    assert len(plugin.mounts()) == 1

    await plugin.unmount("busy", b)
    await plugin.ok("Remove", Name="busy")
    assert plugin.env.rows() == [] and plugin.env.disk_files() == []
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_concurrent_mounts_of_one_volume_attach_once(plugin: Plugin) -> None:
    await plugin.create("race")
    ids = [mount_id() for _ in range(6)]
    points = await asyncio.gather(*(plugin.mount("race", i) for i in ids))
    assert len(set(points)) == 1
    assert len(plugin.mounts()) == 1 and len(plugin.loops()) == 1
    assert sorted(holders(plugin, "race@local1")) == sorted(ids)
    await asyncio.gather(*(plugin.unmount("race", i) for i in ids))
    assert plugin.mounts() == [] and plugin.loops() == []
    assert plugin.state()["volumes"] == {}


async def test_volume_lock_stays_exclusive_with_a_waiter(tmp_path: Path) -> None:
    """Three requests for one volume: the holder, one waiting, one arriving later.

    The per-volume lock must never let two of them in at once; the host's
    lock cleanup must not drop a lock that a waiter is about to take.
    """
    host = Host(None, MountTable(tmp_path / "m.json"), tmp_path, 1.0)  # type: ignore[arg-type]
    inside: set[str] = set()
    overlaps: list[set[str]] = []

    async def request(tag: str) -> None:
        async with host.volume_lock("vol@local1"):
            inside.add(tag)
            if len(inside) > 1:
                overlaps.append(set(inside))
            await asyncio.sleep(0.05)
            inside.discard(tag)

    first = asyncio.create_task(request("first"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(request("waiting"))  # queues on the lock "first" holds
    await asyncio.wait_for(first, 5)
    await asyncio.sleep(0.01)  # "waiting" now holds the lock
    late = asyncio.create_task(request("late"))
    await asyncio.wait_for(asyncio.gather(waiting, late), 5)
    assert overlaps == []


async def test_mount_racing_the_last_unmount_is_never_lost(plugin: Plugin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unmount A, Unmount B (the last), then Mount C, overlapping, on a host whose state-file
    fsync is slow (100 ms). Whatever the interleaving, a Mount that Docker was told succeeded
    must be mounted, recorded and attached when the dust settles."""
    original = MountTable.save

    def slow_save(self: MountTable, snapshot: dict[str, Any]) -> None:
        time.sleep(0.1)
        original(self, snapshot)

    await plugin.create("racy")
    a, b, c = mount_id(), mount_id(), mount_id()
    point = await plugin.mount("racy", a)
    await plugin.mount("racy", b)
    monkeypatch.setattr(MountTable, "save", slow_save)

    async def later(delay: float, call: Any) -> Any:
        await asyncio.sleep(delay)
        return await call

    await asyncio.wait_for(
        asyncio.gather(
            plugin.unmount("racy", a),
            later(0.03, plugin.unmount("racy", b)),  # queues behind A's Unmount
            later(0.13, plugin.mount("racy", c)),  # arrives while B's Unmount releases
        ),
        30,
    )
    assert holders(plugin, "racy@local1") == [c]
    assert plugin.mounts() == [str(point)]
    assert len(plugin.loops()) == 1
    assert (await plugin.ok("Get", Name="racy"))["Volume"]["Status"]["status"] == "attached"
    await plugin.unmount("racy", c)
    assert plugin.mounts() == [] and plugin.loops() == []
