"""Versions on the wire, against a real broker over mTLS: every answer says the broker's version, a
plugin the broker cannot serve is refused before anything is done, in words naming both releases and
what to upgrade, and `Status` lists the plugin version each VM called with."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from testkit.broker_env import BrokerEnv, EnrolledVm
from tests.broker.helpers import FILESYSTEMS, assert_clean, bounded, refused
from vdvs.broker import volume_service
from vdvs.broker.versions import PluginVersions
from vdvs.plugin.broker_client import BROKER_NAME, BrokerClient
from vdvs.plugin.wire import BrokerVersions
from vdvs.proto import admin_pb2, volume_pb2, volume_pb2_grpc
from vdvs.proto.version import VERSION
from vdvs.proto.wire_version import OLDEST_PROTOCOL, OWN, PROTOCOL, Level

FUTURE_PLUGIN = Level("0.9.0", 7, 5)  # a plugin that no longer speaks this broker's level
ANCIENT_PLUGIN = Level("0.0.9", 0, 0)  # below the oldest level this broker speaks


def client_as(env: BrokerEnv, vm: EnrolledVm, level: Level) -> BrokerClient:
    """The plugin's real client, declaring ``level`` as its own."""
    client = BrokerClient(env.address, vm.bundle, retry_budget_s=1.0, versions=BrokerVersions(level))
    env.clients.append(client)
    return client


def raw_stub(env: BrokerEnv, vm: EnrolledVm) -> tuple[grpc.aio.Channel, volume_pb2_grpc.VolumeServiceStub]:
    credentials = grpc.ssl_channel_credentials(vm.bundle.ca_pem, vm.bundle.key_pem, vm.bundle.cert_pem)
    channel = grpc.aio.secure_channel(
        env.address, credentials, options=[("grpc.ssl_target_name_override", BROKER_NAME)]
    )
    return channel, volume_pb2_grpc.VolumeServiceStub(channel)


async def status(env: BrokerEnv) -> Any:
    """The broker's Status, asked on a thread (the broker runs on this test's event loop)."""
    return await bounded(asyncio.to_thread(env.admin, "Status", admin_pb2.StatusRequest()))


async def plugins_seen(env: BrokerEnv) -> dict[str, Any]:
    return {p.vm_name: p for p in (await status(env)).plugins}


async def test_every_answer_carries_the_brokers_version_refusals_included(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    channel, stub = raw_stub(broker_env, vm)
    try:
        ok = stub.List(volume_pb2.ListRequest(), timeout=20)
        await bounded(ok)
        answered = dict(await ok.trailing_metadata())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await bounded(stub.Get(volume_pb2.VolumeRef(name="nothing"), timeout=20))
    finally:
        await channel.close()
    expected = {"vdvs-version": VERSION, "vdvs-protocol": f"{OLDEST_PROTOCOL}-{PROTOCOL}"}
    assert {k: answered[k] for k in expected} == expected
    refusal = dict(info.value.trailing_metadata())
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert {k: refusal[k] for k in expected} == expected
    assert "grpc-status-details-bin" in refusal  # the vDVS error detail is still there


async def test_a_plugin_without_version_metadata_is_a_0_1_0_one_and_is_served(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("old-vm")
    channel, stub = raw_stub(broker_env, vm)
    try:
        created = await bounded(stub.Create(volume_pb2.CreateRequest(name="kept", host_filesystems=FILESYSTEMS)))
        names = await bounded(stub.List(volume_pb2.ListRequest()))
    finally:
        await channel.close()
    assert created.name == "kept" and list(names.names) == ["kept@local1"]
    seen = (await plugins_seen(broker_env))["old-vm"]
    assert (seen.version, seen.protocol, seen.declared, seen.verdict) == ("0.1.0", 1, False, "ok")


async def test_a_plugin_too_new_is_refused_before_anything_is_done(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm-new")
    err = await refused(client_as(broker_env, vm, FUTURE_PLUGIN).create("vol", {}, FILESYSTEMS))
    assert err.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
    assert (err.code, err.name) == (861, "PLUGIN_TOO_NEW")
    assert err.message == (
        f"vdvs plugin 0.9.0 (protocol 7) is newer than this broker {VERSION} supports"
        f" (protocol {OLDEST_PROTOCOL}-{PROTOCOL}): upgrade the broker"
    )
    assert_clean(broker_env)
    seen = (await plugins_seen(broker_env))["vm-new"]
    assert (seen.version, seen.protocol, seen.declared) == ("0.9.0", 7, True)
    assert seen.verdict == f"refused: {err.message}"


async def test_a_plugin_too_old_is_told_to_upgrade_the_plugin(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm-ancient")
    err = await refused(client_as(broker_env, vm, ANCIENT_PLUGIN).list_names())
    assert (err.code, err.grpc_code) == (860, grpc.StatusCode.FAILED_PRECONDITION)
    assert err.message == (
        f"vdvs plugin 0.0.9 (protocol 0) is older than this broker {VERSION} supports"
        f" (protocol {OLDEST_PROTOCOL}-{PROTOCOL}): upgrade the plugin"
    )


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ((("vdvs-version", "0.2.0"), ("vdvs-protocol", "two")), "vdvs-protocol 'two' is not a protocol level"),
        ((("vdvs-version", "0.2.0"),), "vdvs-protocol is missing"),
        ((("vdvs-version", "0.2.0"), ("vdvs-protocol", "3-2")), "the oldest level is above the newest"),
    ],
    ids=["not-a-number", "no-protocol", "oldest-above-newest"],
)
async def test_unreadable_version_metadata_is_refused_in_one_line(
    broker_env: BrokerEnv, metadata: tuple[tuple[str, str], ...], problem: str
) -> None:
    vm = await broker_env.enroll("vm-odd")
    channel, stub = raw_stub(broker_env, vm)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await bounded(stub.List(volume_pb2.ListRequest(), metadata=metadata, timeout=20))
    finally:
        await channel.close()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details() or ""
    assert details.startswith("Cannot read the vdvs plugin's version metadata: ") and problem in details
    assert details.endswith("; upgrade the plugin") and "\n" not in details


async def test_status_lists_the_plugin_version_of_each_vm(broker_env: BrokerEnv) -> None:
    current = await broker_env.enroll("vm-a")
    future = await broker_env.enroll("vm-b")
    assert (await plugins_seen(broker_env)) == {}
    await bounded(broker_env.client(current).list_names())
    await refused(client_as(broker_env, future, FUTURE_PLUGIN).list_names())
    seen = await plugins_seen(broker_env)
    assert sorted(seen) == ["vm-a", "vm-b"]
    assert (seen["vm-a"].version, seen["vm-a"].protocol, seen["vm-a"].verdict) == (VERSION, PROTOCOL, "ok")
    assert seen["vm-a"].vm_uuid == current.uuid and seen["vm-a"].last_seen.endswith("Z")
    assert seen["vm-b"].verdict.startswith("refused: vdvs plugin 0.9.0 (protocol 7) is newer")
    # the VM upgrades its plugin: its next call replaces what the broker remembers
    await bounded(broker_env.client(future).list_names())
    upgraded = (await plugins_seen(broker_env))["vm-b"]
    assert (upgraded.version, upgraded.verdict) == (VERSION, "ok")
    lines = {kv.key: kv.value for kv in (await status(broker_env)).items}
    assert lines["Protocol"] == f"{PROTOCOL} (plugins of protocol {OLDEST_PROTOCOL}-{PROTOCOL} served)"


@pytest.fixture
def future_broker(monkeypatch: pytest.MonkeyPatch) -> Level:
    """The broker started next declares a later release that no longer speaks this tree's level."""
    level = Level("0.9.0", 7, 5)
    monkeypatch.setattr(volume_service, "PluginVersions", lambda: PluginVersions(level))
    return level


async def test_a_broker_that_no_longer_speaks_the_plugins_level_refuses_it_and_the_plugin_sees_its_version(
    future_broker: Level, broker_env: BrokerEnv
) -> None:
    vm = await broker_env.enroll("vm1")
    client = broker_env.client(vm)
    err = await refused(client.create("vol", {}, FILESYSTEMS))
    assert (err.code, err.name) == (860, "PLUGIN_TOO_OLD")
    assert err.message == (
        f"vdvs plugin {VERSION} (protocol {PROTOCOL}) is older than this broker 0.9.0 supports (protocol 5-7):"
        " upgrade the plugin"
    )
    assert client.versions.last == future_broker  # read from the refusal's trailing metadata
    assert_clean(broker_env)


async def test_the_plugin_client_records_the_brokers_level(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    assert client.versions.last is None
    await bounded(client.capabilities())
    assert client.versions.last == OWN
