"""The plugin's side of online extend, on a real plugin socket and broker: ``POST /vdvs/Extend`` grows
a mounted volume's disk and filesystem at once; the watcher grows one an admin extended; errors are
one line in ``Err``; a volume extended while unmounted is full-sized at its next mount."""

from __future__ import annotations

import os
from pathlib import Path

from testkit.broker_env import EnrolledVm
from testkit.vsphere_env import eventually
from tests.broker.helpers import admin
from tests.plugin.conftest import Plugin, StartPlugin, mount_id
from vdvs.plugin import extend, fs_grow
from vdvs.proto import admin_pb2

MB = 1024 * 1024


def size_mb(mountpoint: Path) -> int:
    st = os.statvfs(mountpoint)
    return st.f_blocks * st.f_frsize // MB


async def extend_call(plugin: Plugin, **body: str) -> tuple[int, dict[str, object]]:
    reply = await plugin.post(extend.EXTEND_PATH, body)
    assert isinstance(reply.body, dict), reply
    return reply.status, reply.body


async def test_extend_on_the_socket_grows_the_disk_and_the_mounted_filesystem(plugin: Plugin) -> None:
    await plugin.create("grow", {"fstype": "xfs", "size": "300mb"})
    mountpoint = await plugin.mount("grow", mount_id())
    before = size_mb(mountpoint)
    status, body = await extend_call(plugin, Name="grow", Size="900mb")
    assert (status, body["Err"], body["Name"], body["CapacityMB"], body["Filesystem"]) == (
        200, "", "grow@local1", 900, "grown",
    )  # fmt: skip
    assert size_mb(mountpoint) > before + 500
    got = await plugin.ok("Get", Name="grow")
    assert got["Volume"]["Status"]["capacity"]["size"] == "900MB"


async def test_extend_errors_are_one_line_in_err(plugin: Plugin) -> None:
    await plugin.create("small", {"size": "100mb"})
    status, body = await extend_call(plugin, Name="small", Size="50mb")
    assert (status, body["Code"]) == (500, 831)
    assert body["Err"] == (
        "Cannot extend volume small@local1 to 50MB: it is already 100MB, and a volume only grows "
        "(shrinking is not supported)"
    )
    status, body = await extend_call(plugin, Name="small")
    assert (status, body["Err"]) == (500, "request field 'Size' must be a non-empty string")
    reply = await plugin.post(extend.EXTEND_PATH, raw=b"{not json")
    assert reply.status == 500 and isinstance(reply.body, dict) and reply.body["Err"]
    status, body = await extend_call(plugin, Name="small", Size="200mb")
    assert (status, body["Filesystem"]) == (200, "grows at its next mount")  # not mounted here


async def test_the_watcher_grows_a_filesystem_an_admin_extended(plugin: Plugin) -> None:
    await plugin.create("shared", {"fstype": "xfs", "size": "300mb"})
    mountpoint = await plugin.mount("shared", mount_id())
    request = admin_pb2.VolumeExtendRequest(volume="shared@local1", vmgroup="_DEFAULT", size="600mb")
    await admin(plugin.env, "VolumeExtend", request)
    before = size_mb(mountpoint)
    host = plugin.server.app[extend.HOST_APP_KEY]
    assert await extend.watch_once(host) == ["shared@local1"]
    assert size_mb(mountpoint) > before + 250
    assert await extend.watch_once(host) == []  # full-sized now: nothing to do


async def test_an_ext4_volume_extended_while_unmounted_is_full_sized_at_its_next_mount(plugin: Plugin) -> None:
    await plugin.create("later", {"size": "100mb"})
    mid = mount_id()
    await plugin.mount("later", mid)
    await plugin.unmount("later", mid)
    status, _ = await extend_call(plugin, Name="later", Size="400mb")
    assert status == 200
    mountpoint = await plugin.mount("later", mount_id())
    assert size_mb(mountpoint) > 350
    [entry] = plugin.server.app[extend.HOST_APP_KEY].table.entries.values()
    assert not fs_grow.needs_grow(entry.device, "ext4")


async def test_the_running_plugin_watches_on_its_interval(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    plugin = await start_plugin(vm1, extend_watch_s=0.2)
    await plugin.create("watched", {"fstype": "xfs", "size": "300mb"})
    mountpoint = await plugin.mount("watched", mount_id())
    before = size_mb(mountpoint)
    request = admin_pb2.VolumeExtendRequest(volume="watched@local1", vmgroup="_DEFAULT", size="700mb")
    await admin(plugin.env, "VolumeExtend", request)
    await eventually(lambda: size_mb(mountpoint) > before + 300, 30, "the watcher to grow the filesystem")
