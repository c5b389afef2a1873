"""`vdvs plugin` settings: the TOML form, vDVS's /etc/vsphere-storage-for-docker.conf JSON, the
VDVS_* environment of a managed plugin, and vDVS's precedence between them and the flags."""

from __future__ import annotations

import grp
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testkit.broker_env import BrokerEnv
from vdvs.plugin import config as plugin_config
from vdvs.plugin.config import (
    DEFAULT_BUNDLE,
    DEFAULT_MOUNT_ROOT,
    DEFAULT_SOCKET,
    DEFAULT_STATE_FILE,
    NO_CONFIG_NOTE,
    PluginConfig,
    PluginConfigError,
    find_config,
    resolve,
)
from vdvs.plugin.server import PluginServer

VDVS = str(Path(sys.executable).with_name("vdvs"))
# client_plugin/default-config.json as vDVS shipped it in its deb/rpm, plus the broker address
VDVS_DEFAULT_CONFIG = {
    "MaxLogAgeDays": 28,
    "MaxLogSizeMb": 10,
    "MaxLogFiles": 10,
    "LogPath": "/var/log/vsphere-storage-for-docker.log",
    "LogLevel": "debug",
}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def conf(tmp_path: Path, **keys: Any) -> Path:
    return write_json(tmp_path / "vsphere-storage-for-docker.conf", {"Broker": "broker.example:7643", **keys})


def other_group() -> tuple[str, int]:
    """A group of this host other than root, for name lookups."""
    found = next((g for g in grp.getgrall() if g.gr_gid != 0 and g.gr_name.isidentifier()), None)
    if found is None:
        pytest.skip("this host has no group besides root")
    return found.gr_name, found.gr_gid


def test_defaults_from_a_minimal_vdvs_conf(tmp_path: Path) -> None:
    config = resolve(conf(tmp_path), env={})
    assert config.broker == "broker.example:7643"
    assert (config.bundle, config.socket) == (DEFAULT_BUNDLE, DEFAULT_SOCKET)
    assert (config.mount_root, config.state_file) == (DEFAULT_MOUNT_ROOT, DEFAULT_STATE_FILE)
    assert (config.driver, config.log_level, config.python_log_level) == ("vsphere", "info", "INFO")
    assert (config.socket_group, config.socket_gid) == ("root", 0)
    assert config.log_path is None  # stderr only: the journal, or dockerd's log for a managed plugin
    assert (config.max_log_size_mb, config.max_log_age_days, config.max_log_files) == (10, 28, 10)
    assert config.notes == []


def test_vdvs_shipped_config_with_every_vdvs_key(tmp_path: Path) -> None:
    name, gid = other_group()
    path = conf(
        tmp_path,
        **VDVS_DEFAULT_CONFIG,
        Driver="vsphere",
        InternalDriver="vsphere",
        GroupID=name,
        Bundle="/etc/vdvs/vm1",
        Socket="/run/docker/plugins/vsphere.sock",
        MountRoot="/mnt/vols",
        StateFile="/var/lib/vdvs/p.json",
        DeviceTimeoutSec=12,
        CallTimeoutSec=7.5,
        OpTimeoutSec=99,
        RetryBudgetSec=3,
        Target="photon-only",  # vDVS's Photon keys are accepted and ignored
    )
    config = resolve(path, env={})
    assert config.log_path == Path("/var/log/vsphere-storage-for-docker.log")
    assert (config.log_level, config.python_log_level) == ("debug", "DEBUG")
    assert (config.socket_group, config.socket_gid) == (name, gid)
    assert (config.bundle, config.mount_root, config.state_file) == (
        Path("/etc/vdvs/vm1"),
        Path("/mnt/vols"),
        Path("/var/lib/vdvs/p.json"),
    )
    assert (config.device_timeout_s, config.call_timeout_s, config.op_timeout_s, config.retry_budget_s) == (
        12.0,
        7.5,
        99.0,
        3.0,
    )
    assert config.source == path


def test_toml_form_still_works(tmp_path: Path) -> None:
    path = tmp_path / "plugin.toml"
    path.write_text(
        '[plugin]\nbroker = "unix:///var/lib/vdvs/broker.sock"\nbundle = "/etc/vdvs/bundle"\n'
        'socket = "/tmp/p.sock"\nmount_root = "/mnt/vmdk"\nstate_file = "/tmp/m.json"\nretry_budget_s = 2\n'
        'log_level = "warn"\ngroup = "0"\nlog_path = "/tmp/vdvs-plugin.log"\nmax_log_files = 3\n'
    )
    config = PluginConfig.load(path)
    assert (config.broker, config.socket, config.state_file) == (
        "unix:///var/lib/vdvs/broker.sock",
        Path("/tmp/p.sock"),
        Path("/tmp/m.json"),
    )
    assert (config.retry_budget_s, config.log_level, config.socket_gid, config.max_log_files) == (2.0, "warn", 0, 3)
    assert config.log_path == Path("/tmp/vdvs-plugin.log")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("plugin.conf", '{"Broker": "b:1"}'),
        ("plugin.json", '{"Broker": "b:1"}'),
        ("plugin", '  {"Broker": "b:1"}'),  # no telling suffix: JSON by its first character
        ("plugin.toml", '[plugin]\nbroker = "b:1"\n'),
        ("plugin", '[plugin]\nbroker = "b:1"\n'),
    ],
)
def test_form_told_by_suffix_then_content(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert resolve(path, env={}).broker == "b:1"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = conf(tmp_path, Bundle="/etc/file-bundle", MountRoot="/mnt/file")
    env = {
        "VDVS_BROKER": "10.0.0.5:7643",
        "VDVS_BUNDLE": "/etc/env-bundle",
        "VDVS_MOUNT_ROOT": "/mnt/env",
        "VDVS_STATE_FILE": "/var/lib/env/m.json",
        "VDVS_SOCKET": "/run/docker/plugins/x/vsphere.sock",
    }
    config = resolve(path, env=env)
    assert config.broker == "10.0.0.5:7643"
    assert config.bundle == Path("/etc/env-bundle")
    assert config.mount_root == Path("/mnt/env")
    assert config.state_file == Path("/var/lib/env/m.json")
    assert config.socket == Path("/run/docker/plugins/x/vsphere.sock")
    # a managed plugin's unset settings arrive as empty strings: they do not count
    empty = resolve(path, env=dict.fromkeys(env, ""))
    assert (empty.broker, empty.bundle, empty.mount_root) == (
        "broker.example:7643",
        Path("/etc/file-bundle"),
        Path("/mnt/file"),
    )


def test_no_file_runs_from_the_environment_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_config, "DEFAULT_TOML", tmp_path / "none.toml")
    monkeypatch.setattr(plugin_config, "DEFAULT_VDVS_CONF", tmp_path / "none.conf")
    assert find_config(None) is None
    config = resolve(None, env={"VDVS_BROKER": "127.0.0.1:7643", "VDVS_LOG_LEVEL": "debug"})
    assert (config.broker, config.log_level, config.source) == ("127.0.0.1:7643", "debug", None)
    assert config.notes == [NO_CONFIG_NOTE]  # vDVS's words
    with pytest.raises(PluginConfigError, match=r"no broker address: .*VDVS_BROKER"):
        resolve(None, env={})


def test_config_file_detection_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml, vdvs_conf = tmp_path / "plugin.toml", tmp_path / "vsphere-storage-for-docker.conf"
    monkeypatch.setattr(plugin_config, "DEFAULT_TOML", toml)
    monkeypatch.setattr(plugin_config, "DEFAULT_VDVS_CONF", vdvs_conf)
    write_json(vdvs_conf, {"Broker": "from-conf:1"})
    assert find_config(None) == vdvs_conf
    toml.write_text('[plugin]\nbroker = "from-toml:1"\n')
    assert find_config(None) == toml
    assert find_config(tmp_path / "given.conf") == tmp_path / "given.conf"


@pytest.mark.parametrize(
    ("env", "flag", "file", "expected"),
    [
        ("debug", "warn", "error", "debug"),  # VDVS_LOG_LEVEL wins
        ("", "warn", "error", "warn"),  # then --log_level
        (None, None, "error", "error"),  # then the file
        (None, None, None, "info"),  # then the default
        ("DEBUG", None, None, "debug"),  # any case, as logrus
    ],
)
def test_log_level_precedence(
    tmp_path: Path, env: str | None, flag: str | None, file: str | None, expected: str
) -> None:
    path = conf(tmp_path, **({"LogLevel": file} if file else {}))
    environ = {} if env is None else {"VDVS_LOG_LEVEL": env}
    assert resolve(path, env=environ, log_level=flag).log_level == expected


def test_socket_group_precedence(tmp_path: Path) -> None:
    name, gid = other_group()
    path = conf(tmp_path, GroupID=name)
    assert resolve(path, env={}).socket_gid == gid  # the file
    assert resolve(path, env={"VDVS_SOCKET_GID": "4321"}).socket_gid == 4321  # env over the file
    assert resolve(path, env={"VDVS_SOCKET_GID": "4321"}, group="77").socket_gid == 77  # --group over env
    assert resolve(conf(tmp_path), env={}).socket_gid == 0  # root by default
    assert resolve(conf(tmp_path, GroupID=4321), env={}).socket_group == "4321"  # a number is a gid


def test_driver_names(tmp_path: Path) -> None:
    deprecated = resolve(conf(tmp_path, Driver="vmdk"), env={})
    assert deprecated.driver == "vsphere"
    assert deprecated.notes == ['Using deprecated "vmdk" driver, use "vsphere" driver instead - continuing...']
    with pytest.raises(PluginConfigError, match="Unknown driver or invalid/missing driver options, exiting - photon"):
        resolve(conf(tmp_path, Driver="photon"), env={})
    assert resolve(conf(tmp_path, Driver="photon"), env={}, driver="vsphere").driver == "vsphere"  # --driver wins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Broker": "b:1",}', "not valid JSON"),
        ('["Broker"]', "must be a JSON object"),
        ('{"Broker": "b:1", "LogLevl": "debug"}', r"unknown setting\(s\) \['LogLevl'\]"),
        ('{"Broker": "b:1", "MaxLogFiles": "ten"}', "'MaxLogFiles' must be a whole number >= 0, not 'ten'"),
        ('{"Broker": "b:1", "MaxLogSizeMb": -1}', "'MaxLogSizeMb' must be a whole number"),
        ('{"Broker": "b:1", "DeviceTimeoutSec": 0}', "'DeviceTimeoutSec' must be a number of seconds > 0"),
        ('{"Broker": 7643}', "'Broker' must be a non-empty string"),
        ('{"Broker": "b:1", "MountRoot": "mnt/vmdk"}', "mount_root must be an absolute path"),
        ('{"Broker": "b:1", "LogLevel": "loud"}', "log level 'loud' is not one of"),
        ('{"Broker": "b:1", "GroupID": "no-such-group-here"}', "socket group 'no-such-group-here' does not exist"),
        ('{"Broker": "b:1", "InternalDriver": "photon"}', "'InternalDriver' must be 'vsphere'"),
        ('{"LogLevel": "info"}', "no broker address: set it in .*, or set VDVS_BROKER"),
    ],
)
def test_bad_vdvs_conf(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "vsphere-storage-for-docker.conf"
    path.write_text(text)
    with pytest.raises(PluginConfigError, match=message):
        resolve(path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plugin\nbroker = 1", "not valid TOML"),
        ('[broker]\nlisten = "x"\n', r"unknown table\(s\) \['broker'\]"),
        ('[plugin]\nbroker = "b:1"\nmountroot = "/x"\n', r"unknown setting\(s\) \['mountroot'\]"),
        ('[plugin]\nbroker = "b:1"\ncall_timeout_s = "fast"\n', "'call_timeout_s' must be a number of seconds"),
        ('plugin = "x"\n', "'plugin' must be a table"),
    ],
)
def test_bad_toml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "plugin.toml"
    path.write_text(text)
    with pytest.raises(PluginConfigError, match=message):
        resolve(path, env={})


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PluginConfigError, match=r"plugin config .*nope.conf not found"):
        resolve(tmp_path / "nope.conf", env={})
    (tmp_path / "bin.conf").write_bytes(b"\xff\xfe{")
    with pytest.raises(PluginConfigError, match="cannot read plugin config"):
        resolve(tmp_path / "bin.conf", env={})


def run_plugin_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VDVS_")}
    return subprocess.run(
        [VDVS, "plugin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Broker": "b:1",', "not valid JSON"),
        ('{"Broker": "b:1", "Colour": "blue"}', "unknown setting(s) ['Colour']"),
        ('{"Broker": "b:1", "Driver": "vfile"}', "Unknown driver or invalid/missing driver options, exiting - vfile"),
    ],
)
def test_cli_reports_bad_files_without_traceback(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.conf"
    path.write_text(text)
    done = run_plugin_cli("--config", str(path))
    assert done.returncode == 1, done
    assert message in done.stderr and "Error:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_log_file_and_level_precedence(tmp_path: Path) -> None:
    """LogPath gets vDVS-style rotation settings; VDVS_LOG_LEVEL beats --log_level beats the file."""
    log = tmp_path / "logs" / "vsphere-storage-for-docker.log"
    path = conf(tmp_path, Bundle=str(tmp_path / "no-bundle"), LogPath=str(log), LogLevel="error")
    done = run_plugin_cli("--config", str(path), "--log_level", "info")
    assert done.returncode == 1 and "cannot read this VM's certificate bundle" in done.stderr, done.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(line["msg"].startswith(f"plugin settings from {path}") for line in lines), lines
    log.unlink()
    done = run_plugin_cli("--config", str(path), "--log_level", "info", env={"VDVS_LOG_LEVEL": "error"})
    assert done.returncode == 1
    assert not log.exists() or "plugin settings" not in log.read_text()  # info is below error


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: chown of the socket to another group")
async def test_socket_group_applied(broker_env: BrokerEnv, short_tmp: Path) -> None:
    vm = await broker_env.enroll("vm-group")
    config = PluginConfig(
        broker=broker_env.address,
        bundle=vm.bundle_dir,
        socket=short_tmp / "g.sock",
        mount_root=short_tmp / "mnt",
        state_file=short_tmp / "state" / "mounts.json",
        socket_group="4321",
        socket_gid=4321,
    )
    server = PluginServer(config)
    await server.start()
    try:
        stat = os.stat(config.socket)
        assert (stat.st_gid, stat.st_mode & 0o777) == (4321, 0o660)
    finally:
        await server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: chown of the socket to another group")
async def test_vdvs_plugin_runs_from_a_vdvs_conf(broker_env: BrokerEnv, short_tmp: Path) -> None:
    """`vdvs plugin --config x.conf --group N` against a real broker: serves Docker, socket group set."""
    import asyncio

    vm = await broker_env.enroll("vm-conf")
    sock = short_tmp / "conf.sock"
    path = write_json(
        short_tmp / "vsphere-storage-for-docker.conf",
        {
            "Broker": broker_env.address,
            "Bundle": str(vm.bundle_dir),
            "Socket": str(sock),
            "MountRoot": str(short_tmp / "mnt"),
            "StateFile": str(short_tmp / "state" / "mounts.json"),
            "GroupID": "4000",
        },
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VDVS_")}
    proc = await asyncio.create_subprocess_exec(
        VDVS, "plugin", "--config", str(path), "--group", "4321", env=environ, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(300):
            if sock.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert sock.exists(), "vdvs plugin did not start"
        assert os.stat(sock).st_gid == 4321  # --group beats the file's GroupID
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"POST /VolumeDriver.Capabilities HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        assert b'{"Capabilities": {"Scope": "local"}}' in reply, reply
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert not sock.exists(), "the socket must be gone once the plugin has stopped"
