"""The last Unmount releases the volume: the broker may keep the disk attached to this VM (idle) so that
the next Mount here skips the attach, and a broker without Release gets vDVS's Detach instead."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from tests.plugin.conftest import Plugin, blkid_type, mount_id, sh
from tests.support.broker_env import BrokerEnv, EnrolledVm
from tests.support.system import needs_root
from vdvs.plugin import fs
from vdvs.plugin.api import MountRequest, UnmountRequest
from vdvs.plugin.driver import VolumeDriver
from vdvs.plugin.host import Host
from vdvs.plugin.mounts import MountTable
from vdvs.proto import volume_pb2

pytestmark = needs_root
NO_RELEASE = "has no Release; detaching at the last unmount instead"


async def status_of(plugin: Plugin, name: str) -> str:
    return (await plugin.ok("Get", Name=name))["Volume"]["Status"]["status"]


async def test_last_unmount_on_a_broker_without_release_ends_detached(
    plugin: Plugin, caplog: pytest.LogCaptureFixture
) -> None:
    """This branch's broker answers Release with UNIMPLEMENTED (an older broker): the plugin detaches,
    as vDVS did, and asks no more Releases of that broker."""
    caplog.set_level(logging.INFO, logger="vdvs.plugin.broker")
    await plugin.create("old")
    for _ in range(2):
        mid = mount_id()
        point = await plugin.mount("old", mid)
        assert await status_of(plugin, "old") == "attached"
        await plugin.unmount("old", mid)
        assert plugin.mounts() == [] and plugin.loops() == []
        assert await status_of(plugin, "old") == "detached"
        assert plugin.state()["volumes"] == {}
    assert point == plugin.mountpoint("old@local1")
    assert [r.getMessage() for r in caplog.records if NO_RELEASE in r.getMessage()] == [
        f"broker at {plugin.env.address} {NO_RELEASE}"
    ]


async def test_release_by_the_broker_client_is_a_detach_on_an_older_broker(
    broker_env: BrokerEnv, vm1: EnrolledVm
) -> None:
    client = broker_env.client(vm1)
    await client.create("direct", {}, ["ext4"])
    await client.attach("direct")
    assert (await client.get("direct")).status["status"] == "attached"
    assert await client.release("direct") is False  # not kept attached
    assert (await client.get("direct")).status["status"] == "detached"
    assert await client.release("direct") is False  # a Detach of a detached volume: harmless


class IdleKeepingBroker:
    """Stands in for the broker side of idle attachments, not on this branch yet: Release keeps the
    loop device attached, and the next Attach says the disk was ``reused``."""

    def __init__(self, disk: Path) -> None:
        self.disk = disk.resolve()
        self.device = ""
        self.idle = False
        self.volume = volume_pb2.Volume(
            name="idle", datastore="local1", full_name="idle@local1", fstype="ext4", access="read-write"
        )

    async def get(self, name: str) -> volume_pb2.Volume:
        return self.volume

    async def attach(self, name: str) -> volume_pb2.AttachResponse:
        reused = bool(self.device) and self.idle
        if not self.device:
            made = sh("losetup", "--find", "--show", str(self.disk))
            assert made.returncode == 0, made.stderr
            self.device = made.stdout.strip()
        self.idle = False
        hint = volume_pb2.DeviceHint(kind="loop", path=self.device, backing_file=str(self.disk))
        return volume_pb2.AttachResponse(volume=self.volume, device=hint, reused=reused)

    async def release(self, name: str) -> bool:
        self.idle = True
        return True

    async def detach(self, name: str) -> None:
        if self.device:
            subprocess.run(["losetup", "-d", self.device], check=True, timeout=30)
            self.device = ""


async def test_mount_of_an_idle_attachment_skips_the_probe_with_fake_broker(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = short_tmp / "idle.vmdk"
    with open(disk, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)
    broker = IdleKeepingBroker(disk)
    probed: list[str] = []
    real_probe = fs.probe

    async def probe(device: str) -> str | None:
        probed.append(device)
        return await real_probe(device)

    monkeypatch.setattr(fs, "probe", probe)

    def start() -> VolumeDriver:  # a plugin process: what it remembers dies with it
        table = MountTable(short_tmp / "state" / "mounts.json")
        host = Host(broker, table, short_tmp / "mnt", 10.0)  # type: ignore[arg-type]
        return VolumeDriver(broker, host)  # type: ignore[arg-type]

    async def mount_and_unmount(driver: VolumeDriver) -> str:
        """Mount, note what the file holds (and write it the first time), unmount; what it held."""
        mid = mount_id()
        point = Path((await driver.mount(MountRequest("idle", mid))).mountpoint)
        kept = point / "kept"
        held = kept.read_text() if kept.exists() else ""
        kept.write_text("written at the first mount")
        await driver.unmount(UnmountRequest("idle", mid))
        assert fs.mounted_at(point) is None
        return held

    try:
        driver = start()
        assert await mount_and_unmount(driver) == ""
        assert probed == [broker.device]  # blank: probed, then formatted
        assert broker.idle and blkid_type(broker.device) == "ext4"  # released, still attached

        assert await mount_and_unmount(driver) == "written at the first mount"
        assert len(probed) == 1  # reused, and this process knows its filesystem: no probe

        assert await mount_and_unmount(start()) == "written at the first mount"
        assert len(probed) == 2  # reused, but a new process knows nothing of it: probed as before
    finally:
        await broker.detach("idle")
