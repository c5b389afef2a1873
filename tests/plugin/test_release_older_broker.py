"""A broker from before idle attachments: Release answers UNIMPLEMENTED, and the plugin detaches at the
last unmount instead, as vDVS did. The older broker is not installed here: this one's Release is
replaced, before it starts, by the generated servicer's own UNIMPLEMENTED answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, EnrolledVm, start_broker_env
from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, mount_id
from vdvs.broker.volume_service import VolumeServicer
from vdvs.proto import volume_pb2_grpc

pytestmark = needs_root
NO_RELEASE = "has no Release; detaching at the last unmount instead"


@pytest.fixture
async def broker_env(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BrokerEnv]:
    monkeypatch.setattr(VolumeServicer, "Release", volume_pb2_grpc.VolumeServiceServicer.Release)
    env = await start_broker_env(short_tmp)
    try:
        yield env
    finally:
        await env.close()


async def status_of(plugin: Plugin, name: str) -> str:
    return (await plugin.ok("Get", Name=name))["Volume"]["Status"]["status"]


async def test_last_unmount_on_a_broker_without_release_ends_detached(
    plugin: Plugin, caplog: pytest.LogCaptureFixture
) -> None:
    """An older broker answers Release with UNIMPLEMENTED: the plugin detaches, as vDVS did, and
    asks no more Releases of that broker."""
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
