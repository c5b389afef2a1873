"""A fleet upgraded one VM at a time runs 0.1.0 and this release side by side, both ways round: a 0.1.0
plugin process against this broker, and this plugin against a 0.1.0 broker process. The old side is
0.1.0's own code (testkit/release_v1.py), driven as Docker and an admin drive it; `vdvs version` and
`vdvs status` say which release runs where."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import grpc
import pytest

from testkit.broker_env import make_config
from testkit.broker_process import VDVS, BrokerProcess, cli_env, key_values
from testkit.fixtures import needs_root
from testkit.plugin_process import PluginProcess
from testkit.release_v1 import old_env, v1_config
from testkit.system import Result
from vdvs.broker.config import BrokerConfig
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import read_bundle
from vdvs.plugin.wire import BrokerVersions
from vdvs.proto.version import VERSION
from vdvs.proto.wire_version import OLDEST_PROTOCOL, PROTOCOL, Level

pytestmark = needs_root
MOUNT_ID = "1" * 64
CLI_TIMEOUT_S = 60.0


def new_cli(*args: str) -> Result:
    """This release's `vdvs` (whatever the broker it is pointed at runs)."""
    done = subprocess.run([VDVS, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(),
                          check=False)  # fmt: skip
    return Result(done.returncode, done.stdout, done.stderr)


def ok(result: Result) -> str:
    assert result.rc == 0, f"rc {result.rc}\nstdout: {result.out}\nstderr: {result.err}"
    return result.out


async def docker_round_trip(plugin: PluginProcess, name: str) -> None:
    """What Docker does with a volume, through the plugin's socket: create, mount, write, inspect,
    unmount, list, remove; the data is on the volume while mounted."""
    await plugin.call("Create", Name=name, Opts={"size": "20mb"})
    mountpoint = Path((await plugin.call("Mount", Name=name, ID=MOUNT_ID))["Mountpoint"])
    (mountpoint / "data.txt").write_text("kept", encoding="utf-8")
    inspected = (await plugin.call("Get", Name=name))["Volume"]
    assert inspected["Status"]["status"] == "attached" and inspected["Mountpoint"] == str(mountpoint)
    await plugin.call("Unmount", Name=name, ID=MOUNT_ID)
    assert plugin.mounted() == []
    listed = [v["Name"] for v in (await plugin.call("List"))["Volumes"]]
    assert listed == [f"{name}@local1"]
    await plugin.call("Remove", Name=name)
    assert (await plugin.call("List"))["Volumes"] == []


async def test_a_0_1_0_plugin_keeps_working_against_this_broker(release_v1: Path, short_tmp: Path) -> None:
    broker = BrokerProcess(make_config(short_tmp, ("local1",)), short_tmp / "broker")
    assert broker.init(short_tmp).rc == 0
    broker.start()
    bundle = broker.enroll("vm-old", str(uuid.uuid4()), short_tmp / "bundles" / "vm-old")
    plugin = PluginProcess(short_tmp / "plugin", broker.address, bundle)
    plugin.env = {"PYTHONPATH": str(release_v1)}
    try:
        plugin.start()
        await docker_round_trip(plugin, "shared")

        # `vdvs version`: the plugin answering there predates it; the broker is this release
        shown = key_values(ok(new_cli("version", "--plugin-socket", str(plugin.socket),
                                      "--admin-socket", str(broker.admin_socket))))  # fmt: skip
        assert shown["Plugin"] == "a plugin older than `vdvs version` (0.1.0, protocol 1) answers there"
        assert (
            shown["Broker"]
            == f"{VERSION} (protocol {PROTOCOL} (plugins of protocol {OLDEST_PROTOCOL}-{PROTOCOL} served))"
        )

        # `vdvs status`: the VM's plugin, as the broker saw it
        text = broker.status()
        assert text["VM vm-old"].startswith("0.1.0 (protocol 1, sends no version), last call ")
        seen = broker.js("status")["Plugins"]
        assert [(p["vm"], p["version"], p["protocol"], p["declared"], p["verdict"]) for p in seen] == [
            ("vm-old", "0.1.0", 1, False, "ok")
        ]

        # 0.1.0's CLI (its generated code: the fixture) reads this broker's Status, a field it does not know
        old_cli = subprocess.run([VDVS, "status", "--json", "--admin-socket", str(broker.admin_socket)],
                                 capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                                 env=old_env(release_v1, cli_env()), check=False)  # fmt: skip
        assert old_cli.returncode == 0, old_cli.stderr
        old_view = json.loads(old_cli.stdout)
        assert old_view["Version"] == VERSION and old_view["Status"] == "Running" and "Plugins" not in old_view
    finally:
        plugin.stop()
        broker.stop()


def old_broker(release_v1: Path, home: Path) -> BrokerProcess:
    """A 0.1.0 broker in ``home``: 0.1.0 writes its config, makes its CA and store, and runs it."""
    home.mkdir(parents=True)
    v1_config(release_v1, home, home / "broker.toml")
    broker = BrokerProcess(BrokerConfig.load(home / "broker.toml"), home, env={"PYTHONPATH": str(release_v1)},
                           label="broker 0.1.0")  # fmt: skip
    init = broker.run("config", "init", "--config", str(broker.config_path), "--state-dir", str(home), admin=False)
    assert init.rc == 0, init.err
    broker.start()
    return broker


async def test_this_plugin_works_against_a_0_1_0_broker(release_v1: Path, short_tmp: Path) -> None:
    broker = old_broker(release_v1, short_tmp / "old")
    try:
        assert broker.status()["Version"] == "0.1.0" and "Protocol" not in broker.status()
        bundle = broker.enroll("vm-new", str(uuid.uuid4()), short_tmp / "bundles" / "vm-new")  # 0.1.0's CLI
        plugin = PluginProcess(short_tmp / "plugin", broker.address, bundle)
        plugin.start()
        try:
            await docker_round_trip(plugin, "upgraded")
            shown = key_values(ok(new_cli("version", "--plugin-socket", str(plugin.socket),
                                          "--admin-socket", str(broker.admin_socket))))  # fmt: skip
        finally:
            plugin.stop()
        assert shown["CLI"] == f"{VERSION} (protocol {PROTOCOL}, speaks {OLDEST_PROTOCOL}-{PROTOCOL})"
        assert shown["Plugin"] == (
            f"{VERSION} (protocol {PROTOCOL}, speaks {OLDEST_PROTOCOL}-{PROTOCOL}) on {plugin.socket};"
            f" its broker at {broker.address}: 0.1.0 (protocol 1)"
        )
        assert shown["Broker"] == "0.1.0 (protocol 1 (a 0.1.0 broker: it does not say))"

        # this CLI's status against the old broker: the field it added is empty there, and said so
        status = ok(new_cli("status", "--admin-socket", str(broker.admin_socket)))
        assert "Recorded: no (broker 0.1.0 does not record them)" in status.splitlines()
        assert (
            json.loads(ok(new_cli("status", "--json", "--admin-socket", str(broker.admin_socket))))["Plugins"] is None
        )

        # a later plugin that needs protocol 2 says the broker is too old, and that it carried the call out
        picky = BrokerClient(broker.address, read_bundle(bundle), retry_budget_s=1.0,
                             versions=BrokerVersions(Level(VERSION, PROTOCOL + 1, PROTOCOL)))  # fmt: skip
        try:
            with pytest.raises(BrokerError) as info:
                await picky.list_names()
        finally:
            await picky.close()
        assert (info.value.code, info.value.name) == (863, "BROKER_TOO_OLD")
        assert info.value.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
        assert info.value.message == (
            f"vdvs broker 0.1.0 (protocol 1) is older than this plugin {VERSION} supports"
            f" (protocol {PROTOCOL}-{PROTOCOL + 1}): upgrade the broker"
            " (that broker does not check versions: it carried the call out)"
        )
    finally:
        broker.stop()
