"""Turning metrics on: the broker's ``[metrics]`` table, the plugin's ``metrics_listen`` (file, vDVS-style
JSON key, ``VDVS_METRICS_LISTEN``), their one-line errors, and a plugin that serves its metrics."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.broker_env import BrokerEnv
from vdvs.broker.config import BrokerConfig, ConfigError
from vdvs.plugin.config import PluginConfig, PluginConfigError, resolve
from vdvs.plugin.server import PluginServer, PluginStartError

BROKER_TOML = """
[broker]
listen = "127.0.0.1:7643"
pki_dir = "/var/lib/vdvs/pki"
[store]
path = "/var/lib/vdvs/vdvs.db"
"""


def broker_config(tmp_path: Path, metrics: str = "") -> BrokerConfig:
    path = tmp_path / "broker.toml"
    path.write_text(BROKER_TOML + metrics)
    return BrokerConfig.load(path)


def test_broker_metrics_are_off_without_a_metrics_table(tmp_path: Path) -> None:
    config = broker_config(tmp_path)
    assert (config.metrics_listen, config.metrics_per_volume, config.metrics_cache_s) == ("", False, 5.0)
    assert "[metrics]" not in config.to_toml()


def test_broker_metrics_table_read_and_written_back(tmp_path: Path) -> None:
    config = broker_config(tmp_path, '[metrics]\nlisten = "[::1]:9643"\nper_volume = true\ncache_s = 2\n')
    assert (config.metrics_listen, config.metrics_per_volume, config.metrics_cache_s) == ("[::1]:9643", True, 2.0)
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml())
    reread = BrokerConfig.load(again)
    assert (reread.metrics_listen, reread.metrics_per_volume, reread.metrics_cache_s) == ("[::1]:9643", True, 2.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('listen = "9643"', "metrics.listen='9643' (must be host:port, e.g. '127.0.0.1:9643')"),
        ('listen = "localhost:http"', "metrics.listen='localhost:http' (must be host:port"),
        ('listen = "127.0.0.1:70000"', "metrics.listen='127.0.0.1:70000' (must be host:port"),
        ('listen = "127.0.0.1:9643"\nper_volume = "yes"', "metrics.per_volume='yes' (must be true or false)"),
        ('listen = "127.0.0.1:9643"\ncache_s = -1', "metrics.cache_s=-1 (must be 0 or more)"),
        ('listen = "127.0.0.1:9643"\nport = 9643', "metrics.port (known: listen, per_volume, cache_s)"),
    ],
)
def test_bad_broker_metrics_settings_are_named(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        broker_config(tmp_path, f"[metrics]\n{table}\n")
    assert message in str(info.value)
    assert str(info.value).startswith(f"config file {tmp_path / 'broker.toml'}: bad or missing setting")


def test_plugin_metrics_address_from_toml_json_and_environment(tmp_path: Path) -> None:
    toml = tmp_path / "plugin.toml"
    toml.write_text('[plugin]\nbroker = "b:1"\nmetrics_listen = "127.0.0.1:9644"\n')
    conf = tmp_path / "vsphere-storage-for-docker.conf"
    conf.write_text(json.dumps({"Broker": "b:1", "MetricsListen": "0.0.0.0:9644"}))
    assert resolve(toml, env={}).metrics_listen == "127.0.0.1:9644"
    assert resolve(conf, env={}).metrics_listen == "0.0.0.0:9644"
    # the environment (a managed plugin's settings) overrides the file; empty counts as unset
    assert resolve(toml, env={"VDVS_METRICS_LISTEN": "[::]:9700"}).metrics_listen == "[::]:9700"
    assert resolve(toml, env={"VDVS_METRICS_LISTEN": ""}).metrics_listen == "127.0.0.1:9644"
    assert resolve(None, env={"VDVS_BROKER": "b:1"}).metrics_listen == ""  # off unless asked for


@pytest.mark.parametrize("bad", ["9644", "host:", ":9644", "host:99999"])
def test_a_bad_plugin_metrics_address_is_named(bad: str) -> None:
    with pytest.raises(PluginConfigError) as info:
        resolve(None, env={"VDVS_BROKER": "b:1", "VDVS_METRICS_LISTEN": bad})
    assert str(info.value) == f"metrics address {bad!r} must be host:port, e.g. '127.0.0.1:9644'"


def plugin_config(env: BrokerEnv, bundle: Path, root: Path, metrics_listen: str) -> PluginConfig:
    return PluginConfig(
        broker=env.address,
        bundle=bundle,
        socket=root / "p.sock",
        mount_root=root / "mnt",
        state_file=root / "state" / "mounts.json",
        metrics_listen=metrics_listen,
    )


async def test_a_plugin_serves_its_metrics_and_stops_serving_them(broker_env: BrokerEnv, short_tmp: Path) -> None:
    vm = await broker_env.enroll("vm1")
    server = PluginServer(plugin_config(broker_env, vm.bundle_dir, short_tmp, "127.0.0.1:0"))
    await server.start()
    try:
        address = server.metrics_address
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=30) as reply:
            text = reply.read().decode()
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples["vdvs_plugin_mounted_volumes"] == 0
        assert samples["vdvs_plugin_mount_seconds_count"] == 0  # both outcomes' series, from the start
    finally:
        await server.stop()
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0  # nothing listens there any more


async def test_a_plugin_metrics_port_in_use_stops_the_start_with_a_clear_error(
    broker_env: BrokerEnv, short_tmp: Path
) -> None:
    vm = await broker_env.enroll("vm1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = PluginServer(plugin_config(broker_env, vm.bundle_dir, short_tmp, f"127.0.0.1:{port}"))
        with pytest.raises(PluginStartError) as info:
            await server.start()
    assert str(info.value) == f"cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    assert not (short_tmp / "p.sock").exists()  # Docker was never served
