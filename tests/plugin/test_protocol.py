"""Docker volume plugin protocol v1 as dockerd speaks it: shapes, content type, Err texts."""

from __future__ import annotations

import pytest

from testkit.broker_env import BrokerEnv
from tests.plugin.conftest import CONTENT_TYPE, Plugin

MB = 1024 * 1024


def assert_nothing_created(env: BrokerEnv) -> None:
    assert env.disk_files() == []
    assert env.rows() == []


async def test_activate_implements_volume_driver(plugin: Plugin) -> None:
    reply = await plugin.post("/Plugin.Activate")  # dockerd sends an empty body
    assert reply.status == 200
    assert reply.content_type == CONTENT_TYPE
    assert reply.body == {"Implements": ["VolumeDriver"]}


async def test_capabilities_scope_local_for_local_backend(plugin: Plugin) -> None:
    reply = await plugin.post("/VolumeDriver.Capabilities", {})
    assert reply.status == 200
    assert reply.content_type == CONTENT_TYPE
    assert reply.body == {"Capabilities": {"Scope": "local"}}


async def test_create_with_null_opts_uses_defaults(plugin: Plugin, broker_env: BrokerEnv) -> None:
    # `docker volume create -d vsphere vol` without -o sends "Opts": null
    reply = await plugin.post("/VolumeDriver.Create", {"Name": "plain", "Opts": None})
    assert (reply.status, reply.content_type, reply.body) == (200, CONTENT_TYPE, {"Err": ""})
    prefix = "local1:11111111-1111-1111-1111-111111111111/plain"
    assert broker_env.disk_files() == [f"{prefix}.vmdk", f"{prefix}.vmfd"]
    assert [(name, state) for name, state, _ in broker_env.rows()] == [("plain", "ready")]
    status = (await plugin.ok("Get", Name="plain"))["Volume"]["Status"]
    assert status["capacity"]["size"] == "100MB"
    assert status["fstype"] == "ext4"
    assert status["access"] == "read-write"
    assert status["diskformat"] == "thin"
    assert status["datastore"] == "local1"
    assert status["status"] == "detached"
    assert status["created by VM"] == "vm1"


async def test_create_with_options(plugin: Plugin, broker_env: BrokerEnv) -> None:
    await plugin.create("opts@local2", {"size": "200mb", "fstype": "ext3", "access": "read-only"})
    [vmdk] = [f for f in broker_env.disk_files() if f.endswith(".vmdk")]
    assert vmdk == "local2:11111111-1111-1111-1111-111111111111/opts.vmdk"
    disk = broker_env.datastore_dir("local2") / "dockvols" / "11111111-1111-1111-1111-111111111111" / "opts.vmdk"
    assert disk.stat().st_size == 200 * MB
    volume = (await plugin.ok("Get", Name="opts@local2"))["Volume"]
    assert volume["Name"] == "opts@local2"
    assert volume["Mountpoint"] == str(plugin.mountpoint("opts@local2"))
    assert volume["CreatedAt"]
    status = volume["Status"]
    assert status["capacity"]["size"] == "200MB"
    assert (status["fstype"], status["access"], status["datastore"]) == ("ext3", "read-only", "local2")


async def test_create_is_idempotent(plugin: Plugin, broker_env: BrokerEnv) -> None:
    await plugin.create("twice")
    await plugin.create("twice")  # the engine may re-send Create; vDVS answered success
    assert len(broker_env.rows()) == 1


async def test_create_refused_by_broker_rules_gets_vdvs_text(plugin: Plugin, broker_env: BrokerEnv) -> None:
    err = await plugin.fail("Create", Name="bad", Opts={"size": "10xb"})
    assert err.startswith("Invalid format for size.")
    assert_nothing_created(broker_env)


async def test_get_unknown_volume_returns_err(plugin: Plugin) -> None:
    # the engine asks every driver for names it does not know: a non-empty Err says "not mine"
    err = await plugin.fail("Get", Name="nosuchvol")
    assert err.startswith("Volume nosuchvol not found (file: ")
    assert err.endswith("/dockvols/11111111-1111-1111-1111-111111111111/nosuchvol.vmdk)")


async def test_get_with_empty_name_returns_err(plugin: Plugin) -> None:
    assert await plugin.fail("Get", Name="") == "No volume with name as empty string exists"


async def test_list_gives_full_names_and_mountpoints(plugin: Plugin) -> None:
    assert (await plugin.ok("List"))["Volumes"] == []
    await plugin.create("alpha")
    await plugin.create("beta@local2")
    volumes = (await plugin.ok("List"))["Volumes"]
    assert sorted(volumes, key=lambda v: v["Name"]) == [
        {"Name": "alpha@local1", "Mountpoint": str(plugin.mount_root / "alpha@local1")},
        {"Name": "beta@local2", "Mountpoint": str(plugin.mount_root / "beta@local2")},
    ]


async def test_path_of_unmounted_volume(plugin: Plugin) -> None:
    await plugin.create("where")
    body = await plugin.ok("Path", Name="where")
    assert body["Mountpoint"] == str(plugin.mount_root / "where@local1")
    assert not (plugin.mount_root / "where@local1").exists()  # Path does not mount anything
    err = await plugin.fail("Path", Name="ghost")
    assert "Volume ghost not found" in err


async def test_remove_deletes_disk_and_row(plugin: Plugin, broker_env: BrokerEnv) -> None:
    await plugin.create("gone")
    assert await plugin.ok("Remove", Name="gone") == {"Err": ""}
    assert_nothing_created(broker_env)
    assert "Volume gone not found" in await plugin.fail("Get", Name="gone")
    assert "Volume gone not found" in await plugin.fail("Remove", Name="gone")


async def test_unknown_endpoint_is_an_err_not_a_traceback(plugin: Plugin, broker_env: BrokerEnv) -> None:
    reply = await plugin.post("/VolumeDriver.Snapshot", {"Name": "x"})
    assert reply.status == 404
    assert reply.content_type == CONTENT_TYPE
    assert reply.body == {"Err": "unknown plugin endpoint '/VolumeDriver.Snapshot'"}
    reply = await plugin.post("/", {})
    assert (reply.status, reply.content_type) == (404, CONTENT_TYPE)
    assert reply.err
    assert_nothing_created(broker_env)


async def test_get_method_is_an_err(plugin: Plugin) -> None:
    async with plugin.session.get("http://localhost/VolumeDriver.List") as resp:
        assert resp.status == 405
        assert resp.content_type == CONTENT_TYPE
        body = await resp.json(content_type=None)
    assert "GET" in body["Err"] and "/VolumeDriver.List" in body["Err"]


MALFORMED = [
    pytest.param(b"{bad json", "request body is not valid JSON", id="bad-json"),
    pytest.param(b"\xff\xfe{}", "request body is not valid JSON", id="not-utf8"),
    pytest.param(b'[{"Name": "vol"}]', "request body must be a JSON object", id="json-array"),
    pytest.param(b'"vol"', "request body must be a JSON object", id="json-string"),
    pytest.param(b'{"Name": 42, "Opts": null}', "request field 'Name' must be a string", id="name-number"),
    pytest.param(b'{"Opts": {}}', "request field 'Name' must be a string", id="name-missing"),
    pytest.param(b'{"Name": null}', "request field 'Name' must be a string", id="name-null"),
    pytest.param(b'{"Name": "vol", "Opts": {"size": 100}}', "option 'size' must be a string", id="opt-number"),
    pytest.param(b'{"Name": "vol", "Opts": {"size": null}}', "option 'size' must be a string", id="opt-null"),
    pytest.param(b'{"Name": "vol", "Opts": ["size"]}', "request field 'Opts' must be an object of strings", id="opts"),
]


@pytest.mark.parametrize(("raw", "expected"), MALFORMED)
async def test_malformed_create_gets_clear_err_and_creates_nothing(
    plugin: Plugin, broker_env: BrokerEnv, raw: bytes, expected: str
) -> None:
    reply = await plugin.post("/VolumeDriver.Create", raw=raw)
    assert (reply.status, reply.content_type, reply.body) == (500, CONTENT_TYPE, {"Err": expected})
    assert_nothing_created(broker_env)


@pytest.mark.parametrize("verb", ["Mount", "Unmount", "Remove", "Get", "Path"])
async def test_malformed_name_on_every_verb(plugin: Plugin, verb: str) -> None:
    reply = await plugin.post(f"/VolumeDriver.{verb}", {"Name": ["vol"], "ID": "0" * 64})
    assert (reply.status, reply.content_type) == (500, CONTENT_TYPE)
    assert reply.err == "request field 'Name' must be a string"
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_two_megabyte_body_is_refused(plugin: Plugin, broker_env: BrokerEnv) -> None:
    raw = b'{"Name": "big", "Opts": {"pad": "' + b"x" * (2 * MB) + b'"}}'
    reply = await plugin.post("/VolumeDriver.Create", raw=raw)
    assert reply.status == 413
    assert reply.content_type == CONTENT_TYPE
    assert reply.err == "request body too large (limit 1048576 bytes)"
    assert_nothing_created(broker_env)
    # the plugin keeps serving after the refusal
    assert (await plugin.ok("List"))["Volumes"] == []
