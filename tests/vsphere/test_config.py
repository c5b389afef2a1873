"""``[backend.vsphere]`` in the broker's TOML: parsed, checked, written back; the password stays out."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdvs.broker.backends.vsphere.settings import SettingsError, VsphereSettings
from vdvs.broker.config import BrokerConfig, ConfigError

BASE = """
[broker]
listen = "127.0.0.1:0"
pki_dir = "/tmp/pki"
[store]
path = "/tmp/vdvs.db"
"""


def load(tmp_path: Path, backend: str) -> BrokerConfig:
    path = tmp_path / "broker.toml"
    path.write_text(BASE + backend, encoding="utf-8")
    return BrokerConfig.load(path)


def test_vsphere_table_with_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[backend]
kind = "vsphere"
[backend.vsphere]
host = "vc.example.com"
user = "vdvs@vsphere.local"
password_file = "/etc/vdvs/vsphere.password"
datacenter = "DC1"
""",
    )
    assert config.backend == "vsphere"
    assert config.vsphere == VsphereSettings(
        host="vc.example.com",
        user="vdvs@vsphere.local",
        password_file=Path("/etc/vdvs/vsphere.password"),
        datacenter="DC1",
    )
    assert (config.vsphere.port, config.vsphere.verify_tls, config.vsphere.ca_file) == (443, True, None)
    written = tmp_path / "again.toml"
    written.write_text(config.to_toml(), encoding="utf-8")
    assert BrokerConfig.load(written).vsphere == config.vsphere


def test_local_backend_is_unchanged(tmp_path: Path) -> None:
    config = load(tmp_path, '[backend]\nkind = "local"\n[backend.local]\ndatastores = { local1 = "/srv/ds1" }\n')
    assert (config.backend, config.vsphere, config.local_datastores) == ("local", None, {"local1": Path("/srv/ds1")})
    assert "vsphere" not in config.to_toml()


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('host = "h"\nuser = "u"\npassword = "hunter2"', "backend.vsphere.password is not accepted"),
        ('host = "h"\nuser = "u"', "exactly one of password_file or password_env"),
        ('host = "h"\nuser = "u"\npassword_file = "/p"\npassword_env = "E"', "exactly one of"),
        ('user = "u"\npassword_env = "E"', "backend.vsphere.host is required"),
        ('host = "h"\nuser = "u"\npassword_env = "E"\nverify_tls = "no"', "verify_tls must be true or false"),
        ('host = "h"\nuser = "u"\npassword_env = "E"\nverify = false', "unknown backend.vsphere setting(s) ['verify']"),
        ('host = "h"\nuser = "u"\npassword_env = "E"\nadapter_type = "ide"', "adapter_type='ide'"),
    ],
)
def test_bad_vsphere_settings_are_named(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'[backend]\nkind = "vsphere"\n[backend.vsphere]\n{table}\n')
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_kind_vsphere_needs_its_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs a \[backend.vsphere\] table"):
        load(tmp_path, '[backend]\nkind = "vsphere"\n')


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("s3cret-from-file\nignored second line\n")
    assert VsphereSettings("h", "u", password_file=tmp_path / "pw").read_password() == "s3cret-from-file"
    monkeypatch.setenv("VDVS_TEST_PW", "s3cret-from-env")
    assert VsphereSettings("h", "u", password_env="VDVS_TEST_PW").read_password() == "s3cret-from-env"
    monkeypatch.setenv("VDVS_TEST_PW", "")
    with pytest.raises(SettingsError, match="environment variable VDVS_TEST_PW"):
        VsphereSettings("h", "u", password_env="VDVS_TEST_PW").read_password()
    with pytest.raises(SettingsError, match="cannot read password_file"):
        VsphereSettings("h", "u", password_file=tmp_path / "missing").read_password()
    settings = VsphereSettings("h", "u", password_file=tmp_path / "pw")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.to_dict())
