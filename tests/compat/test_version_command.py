"""`vdvs version`: this CLI's release, the local plugin's (asked over its socket, which asks its broker)
and the broker's (through the admin socket), each in one line; what cannot be asked says why."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from testkit.broker_env import make_config
from testkit.broker_process import VDVS, BrokerProcess, cli_env, key_values
from testkit.plugin_process import PluginProcess
from vdvs.proto.version import VERSION
from vdvs.proto.wire_version import OLDEST_PROTOCOL, PROTOCOL

SPAN = f"{OLDEST_PROTOCOL}-{PROTOCOL}"
CLI_TIMEOUT_S = 60.0


def version(*args: str) -> tuple[int, str]:
    done = subprocess.run([VDVS, "version", *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          env=cli_env(), check=False)  # fmt: skip
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout


def test_versions_of_the_cli_the_plugin_and_the_broker(short_tmp: Path) -> None:
    broker = BrokerProcess(make_config(short_tmp, ("local1",)), short_tmp / "broker")
    assert broker.init(short_tmp).rc == 0
    broker.start()
    bundle = broker.enroll("vm1", str(uuid.uuid4()), short_tmp / "bundles" / "vm1")
    plugin = PluginProcess(short_tmp / "plugin", broker.address, bundle)
    where = ["--plugin-socket", str(plugin.socket), "--admin-socket", str(broker.admin_socket)]
    try:
        plugin.start()
        rc, out = version(*where)
        assert rc == 0
        assert out.splitlines() == [
            f"CLI: {VERSION} (protocol {PROTOCOL}, speaks {SPAN})",
            f"Plugin: {VERSION} (protocol {PROTOCOL}, speaks {SPAN}) on {plugin.socket};"
            f" its broker at {broker.address}: {VERSION} (protocol {PROTOCOL})",
            f"Broker: {VERSION} (protocol {PROTOCOL} (plugins of protocol {SPAN} served))",
        ]
        rc, out = version(*where, "--json")
        shown = json.loads(out)
        assert shown["cli"] == {"version": VERSION, "protocol": PROTOCOL, "oldest_protocol": OLDEST_PROTOCOL}
        assert shown["plugin"]["Broker"] == {
            "Address": broker.address,
            "Version": VERSION,
            "Protocol": PROTOCOL,
            "OldestProtocol": OLDEST_PROTOCOL,
            "Declared": True,
        }
        assert shown["broker"]["version"] == VERSION

        # the broker stopped: the plugin says it cannot reach it, and so does the CLI
        broker.stop()
        rc, out = version(*where)
        lines = key_values(out)
        assert rc == 0
        assert lines["Plugin"].startswith(
            f"{VERSION} (protocol {PROTOCOL}, speaks {SPAN}) on {plugin.socket};"
            f" its broker at {broker.address}: {VERSION} (protocol {PROTOCOL})"  # as last seen
        )
        assert (
            f"; its broker at {broker.address}: vSphere volume broker at {broker.address} is unreachable"
            in (lines["Plugin"])
        )
        assert lines["Broker"].startswith("unreachable: Cannot reach the vdvs broker")
    finally:
        plugin.stop()
        broker.stop()

    rc, out = version(*where)
    assert rc == 0
    assert key_values(out)["Plugin"] == f"not running (no socket at {plugin.socket})"
