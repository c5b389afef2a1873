"""Where an admin command goes (flags > environment > ~/.config/vdvs/cli.toml > the local socket), and the
broker's settings for delegation: `[broker] admin_listen` and `[audit]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdvs.broker.config import BrokerConfig, ConfigError
from vdvs.cli.admin_client import AdminError, Target
from vdvs.cli.target import LOCAL_SOCKET, config_file, resolve_target

SOCKET = Path("/tmp/x/admin.sock")


def cli_toml(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment whose ~/.config/vdvs/cli.toml holds ``text``."""
    path = tmp_path / ".config" / "vdvs" / "cli.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return {"HOME": str(tmp_path)}


def test_nothing_given_is_the_local_socket(tmp_path: Path) -> None:
    assert resolve_target(None, None, None, {"HOME": str(tmp_path)}) == Target(socket=LOCAL_SOCKET)


def test_the_config_file_names_a_broker_and_its_bundle(tmp_path: Path) -> None:
    env = cli_toml(tmp_path, '[admin]\nbroker = "b.example:7644"\nbundle = "~/alice"\n')
    assert config_file(env) == tmp_path / ".config" / "vdvs" / "cli.toml"
    found = resolve_target(None, None, None, env)
    assert found.broker == "b.example:7644" and found.remote
    assert found.bundle == Path("~/alice").expanduser()
    assert config_file({"XDG_CONFIG_HOME": "/etc/xdg", "HOME": "/root"}) == Path("/etc/xdg/vdvs/cli.toml")


def test_environment_beats_the_file_and_flags_beat_both(tmp_path: Path) -> None:
    env = cli_toml(tmp_path, '[admin]\nbroker = "file:1"\nbundle = "/file"\n')
    env |= {"VDVS_BROKER": "env:2", "VDVS_BUNDLE": "/env"}
    assert resolve_target(None, None, None, env) == Target(broker="env:2", bundle=Path("/env"))
    assert resolve_target(None, "flag:3", None, env) == Target(broker="flag:3", bundle=Path("/env"))
    assert resolve_target(None, "flag:3", Path("/flag"), env) == Target(broker="flag:3", bundle=Path("/flag"))
    # an explicit --admin-socket is a flag too: the local broker, whatever the environment says
    assert resolve_target(SOCKET, None, None, env) == Target(socket=SOCKET)
    del env["VDVS_BROKER"]
    env["VDVS_ADMIN_SOCKET"] = str(SOCKET)
    assert resolve_target(None, None, None, env) == Target(socket=SOCKET)
    del env["VDVS_ADMIN_SOCKET"]
    assert resolve_target(None, None, None, env) == Target(broker="file:1", bundle=Path("/env"))


def test_a_remote_broker_without_a_bundle_is_refused_saying_where_to_give_one(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    with pytest.raises(AdminError) as info:
        resolve_target(None, "b:1", None, env)
    assert info.value.message == (
        f"--broker b:1 needs an admin bundle: --bundle DIR, VDVS_BUNDLE, bundle in [admin] of "
        f"{tmp_path}/.config/vdvs/cli.toml, or a vdvs login"
    )


@pytest.mark.parametrize("text", ["[admin\n", "[admin]\nbroker = 7644\n", "admin = 1\n"])
def test_a_bad_config_file_is_named(tmp_path: Path, text: str) -> None:
    env = cli_toml(tmp_path, text)
    with pytest.raises(AdminError) as info:
        resolve_target(None, None, None, env)
    assert str(tmp_path / ".config" / "vdvs" / "cli.toml") in info.value.message


BROKER = """
[broker]
listen = "127.0.0.1:7643"
pki_dir = "/p"
{extra}
[store]
path = "/s.db"
{audit}
"""


def load(tmp_path: Path, extra: str = "", audit: str = "") -> BrokerConfig:
    path = tmp_path / "broker.toml"
    path.write_text(BROKER.format(extra=extra, audit=audit))
    return BrokerConfig.load(path)


def test_admin_listen_and_audit_settings_default_off_and_on(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert (config.admin_listen, config.audit_enabled, config.audit_retention_days) == ("", True, 90.0)
    config = load(tmp_path, 'admin_listen = "0.0.0.0:7644"', "[audit]\nenabled = false\nretention_days = 7")
    assert (config.admin_listen, config.audit_enabled, config.audit_retention_days) == ("0.0.0.0:7644", False, 7.0)
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml())
    reread = BrokerConfig.load(again)
    assert (reread.admin_listen, reread.audit_enabled, reread.audit_retention_days) == ("0.0.0.0:7644", False, 7.0)


@pytest.mark.parametrize(
    ("audit", "text"),
    [
        ("[audit]\nenabled = 'yes'", "bad or missing setting audit.enabled='yes' (true or false)"),
        ("[audit]\nretention_days = -1", "bad or missing setting audit.retention_days=-1 (must be 0 or more)"),
    ],
)
def test_bad_audit_settings_are_named(tmp_path: Path, audit: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, audit=audit)
    assert str(info.value).endswith(text)
