"""``[backend.<kind>.overcommit]`` in the broker's TOML: read, checked, written back; absent = unlimited."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdvs.broker.config import BrokerConfig, ConfigError

BASE = """
[broker]
listen = "127.0.0.1:0"
pki_dir = "/tmp/pki"
[store]
path = "/tmp/vdvs.db"
[backend]
kind = "{kind}"
"""
LOCAL = '[backend.local]\ndatastores = { local1 = "/srv/ds1", local2 = "/srv/ds2" }\n'
VSPHERE = '[backend.vsphere]\nhost = "vc"\nuser = "u"\npassword_env = "E"\n'


def load(tmp_path: Path, text: str, kind: str = "local") -> BrokerConfig:
    path = tmp_path / "broker.toml"
    path.write_text(BASE.format(kind=kind) + text, encoding="utf-8")
    return BrokerConfig.load(path)


def test_no_table_is_no_limit(tmp_path: Path) -> None:
    assert load(tmp_path, LOCAL).overcommit == {}
    assert "overcommit" not in load(tmp_path, LOCAL).to_toml()


def test_local_ratios_are_read_and_written_back(tmp_path: Path) -> None:
    config = load(tmp_path, LOCAL + "[backend.local.overcommit]\nlocal1 = 2.0\nlocal2 = 1\n")
    assert config.overcommit == {"local1": 2.0, "local2": 1.0}
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml(), encoding="utf-8")
    assert BrokerConfig.load(again).overcommit == config.overcommit


def test_vsphere_ratios_live_in_the_vsphere_table(tmp_path: Path) -> None:
    config = load(tmp_path, VSPHERE + "[backend.vsphere.overcommit]\ndatastore1 = 3.5\n", kind="vsphere")
    assert config.overcommit == {"datastore1": 3.5}
    assert config.vsphere is not None and config.vsphere.host == "vc"
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml(), encoding="utf-8")
    assert BrokerConfig.load(again).overcommit == {"datastore1": 3.5}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("local1 = 0", "backend.local.overcommit.local1=0 (must be a number more than 0)"),
        ("local1 = -2.0", "backend.local.overcommit.local1=-2.0 (must be a number more than 0)"),
        ('local1 = "2x"', "backend.local.overcommit.local1='2x' (must be a number more than 0)"),
        ("local1 = true", "backend.local.overcommit.local1=True (must be a number more than 0)"),
        ("local9 = 2.0", "backend.local.overcommit.local9 (no such datastore in backend.local.datastores)"),
    ],
)
def test_bad_ratios_are_named(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, LOCAL + f"[backend.local.overcommit]\n{table}\n")
    assert str(info.value) == f"config file {tmp_path / 'broker.toml'}: bad or missing setting {expected}"
