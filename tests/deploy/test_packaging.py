"""packaging/: the systemd units (ordering against docker.service, restart policy), the managed
plugin's config.json (what Docker needs and what `vdvs plugin` reads), the example configs."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vdvs.broker.backends.local.backend import LocalBackend
from vdvs.broker.backends.vsphere.backend import VsphereBackend
from vdvs.broker.config import BrokerConfig
from vdvs.plugin.bundle_setting import SETTING as BUNDLE_SETTING
from vdvs.plugin.config import ENV_KEYS, resolve

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
SYSTEMD = PACKAGING / "systemd"
EXAMPLES = PACKAGING / "examples"
VDVS = str(Path(sys.executable).with_name("vdvs"))


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)  # strict: no key given twice
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def words(parser: configparser.ConfigParser, section: str, key: str) -> list[str]:
    return parser.get(section, key, fallback="").split()


def test_broker_unit() -> None:
    broker = unit("vdvs-broker.service")
    assert broker["Service"]["ExecStart"] == "/opt/vdvs/bin/vdvs broker --config /etc/vdvs/broker.toml"
    assert "network-online.target" in words(broker, "Unit", "After")
    assert "network-online.target" in words(broker, "Unit", "Wants")
    # up before the plugin (and Docker) on a machine that runs all three
    assert {"vdvs-plugin.service", "docker.service"} <= set(words(broker, "Unit", "Before"))
    assert broker["Service"]["Restart"] == "on-failure"
    assert broker["Service"]["RestartSec"] == "2s"
    assert "/run/vdvs/admin.sock" in broker["Service"]["ExecStartPost"]  # started = admin socket up
    assert words(broker, "Install", "WantedBy") == ["multi-user.target"]


def test_plugin_unit_orders_against_docker() -> None:
    plugin = unit("vdvs-plugin.service")
    assert plugin["Service"]["ExecStart"] == "/opt/vdvs/bin/vdvs plugin"
    # starts before dockerd restores containers (and, the reverse order, stops after dockerd)
    assert "docker.service" in words(plugin, "Unit", "Before")
    assert "docker.service" not in words(plugin, "Unit", "After")
    assert "vdvs-broker.service" in words(plugin, "Unit", "After")
    assert "vdvs-plugin.service" not in words(plugin, "Unit", "Before")
    # enabling it hooks it to docker.service too
    assert set(words(plugin, "Install", "WantedBy")) == {"multi-user.target", "docker.service"}
    assert plugin["Service"]["Restart"] == "always"
    assert "/run/docker/plugins/vsphere.sock" in plugin["Service"]["ExecStartPost"]  # started = socket up
    assert plugin["Service"]["KillMode"] == "mixed"
    assert plugin["Service"]["EnvironmentFile"] == "-/etc/default/vdvs-plugin"
    # mounts must reach Docker: nothing that gives the plugin a private mount namespace
    for key in ("PrivateMounts", "ProtectSystem", "PrivateTmp", "ProtectHome", "MountFlags"):
        assert key not in plugin["Service"], key


def test_units_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` (systemd need not run: it only loads and checks the units)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd; ./dev test installs it)")
    names = ["vdvs-broker.service", "vdvs-plugin.service"]
    for name in names:  # ExecStart must exist: point it at this environment's vdvs
        text = (SYSTEMD / name).read_text().replace("/opt/vdvs/bin/vdvs", VDVS)
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, output
    assert not [line for line in output.splitlines() if "vdvs-" in line], output


def managed_config() -> dict[str, Any]:
    data = json.loads((PACKAGING / "managed-plugin" / "config.json").read_text())
    assert isinstance(data, dict)
    return data


def test_managed_plugin_config() -> None:
    config = managed_config()
    assert config["interface"] == {"types": ["docker.volumedriver/1.0"], "socket": "vsphere.sock"}
    assert config["entrypoint"] == ["/opt/vdvs/bin/vdvs", "plugin"]
    assert config["network"] == {"type": "host"}  # reaches the broker like any host process
    assert config["propagatedMount"] == "/mnt/vmdk"
    assert config["linux"]["capabilities"] == ["CAP_SYS_ADMIN"]
    assert config["linux"]["allowAllDevices"] is True
    mounts = {m["name"]: m for m in config["mounts"]}
    assert (mounts["dev"]["source"], mounts["dev"]["destination"]) == ("/dev", "/dev")
    assert "rbind" in mounts["dev"]["options"]
    assert mounts["bundle"]["settable"] == ["source"] and "ro" in mounts["bundle"]["options"]
    assert mounts["state"]["settable"] == ["source"] and "rw" in mounts["state"]["options"]
    env = {e["name"]: e for e in config["env"]}
    # the settings are exactly what `vdvs plugin` reads from its environment
    assert set(env) - {"PATH"} <= {*ENV_KEYS, "VDVS_LOG_LEVEL", "VDVS_SOCKET_GID", BUNDLE_SETTING}
    assert env[BUNDLE_SETTING] == {**env[BUNDLE_SETTING], "settable": ["value"], "value": ""}  # unset: VDVS_BUNDLE
    for settable in ("VDVS_BROKER", "VDVS_BUNDLE", "VDVS_LOG_LEVEL", "VDVS_SOCKET_GID"):
        assert env[settable]["settable"] == ["value"], settable
    assert env["VDVS_BUNDLE"]["value"] == mounts["bundle"]["destination"]
    # mounts are made where Docker can see them, and the bookkeeping lands on the state mount
    assert env["VDVS_MOUNT_ROOT"]["value"] == config["propagatedMount"]
    assert Path(env["VDVS_STATE_FILE"]["value"]).parent == Path(mounts["state"]["destination"])
    assert "settable" not in env["VDVS_MOUNT_ROOT"] and "settable" not in env["VDVS_STATE_FILE"]


def test_managed_plugin_settings_resolve() -> None:
    """The plugin's defaults plus `docker plugin set VDVS_BROKER=...` make a complete config."""
    env = {e["name"]: e["value"] for e in managed_config()["env"]}
    env["VDVS_BROKER"] = "broker.example.com:7643"
    config = resolve(None, env=env)
    assert (config.broker, config.bundle, config.mount_root) == (
        "broker.example.com:7643",
        Path("/etc/vdvs/bundle"),
        Path("/mnt/vmdk"),
    )
    assert (config.socket_gid, config.log_level) == (0, "info")


def test_examples_load(tmp_path: Path) -> None:
    local = BrokerConfig.load(EXAMPLES / "broker-local.toml")
    assert local.backend == "local" and set(local.local_datastores) == {"local1", "local2"}
    vsphere = BrokerConfig.load(EXAMPLES / "broker-vsphere.toml")
    assert vsphere.backend == "vsphere" and vsphere.vsphere is not None
    assert vsphere.vsphere.host == "vcenter.example.com"
    toml = resolve(EXAMPLES / "plugin.toml", env={})
    conf = resolve(EXAMPLES / "vsphere-storage-for-docker.conf", env={})
    for plugin in (toml, conf):
        assert plugin.broker == "broker.example.com:7643"
        assert (plugin.bundle, plugin.mount_root) == (Path("/etc/vdvs/bundle"), Path("/mnt/vmdk"))
        assert plugin.state_file == Path("/var/lib/vdvs/plugin/mounts.json")
    assert conf.log_path == Path("/var/log/vsphere-storage-for-docker.log")
    for line in (EXAMPLES / "vdvs-plugin.env").read_text().splitlines():
        assert line.startswith("#") and ("=" not in line or line.split("=")[0].lstrip("# ").startswith("VDVS_"))


def test_capabilities_scope_per_backend() -> None:
    """Docker's volume scope: a vSphere disk follows its task to any node (global); a loop device
    on this machine does not (local). Docker-side proof for local: tests/deploy/test_swarm.py."""
    assert VsphereBackend.scope == "global"
    assert LocalBackend.scope == "local"
