"""The [auth] part of broker.toml: read back as written, and every mistake named by file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdvs.broker.auth_config import LdapSettings
from vdvs.broker.config import BrokerConfig, ConfigError

BASE = """
[broker]
listen = "127.0.0.1:0"
pki_dir = "/tmp/pki"
[store]
path = "/tmp/vdvs.db"
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "ca.pem").write_text("a CA")
    (tmp_path / "ldap.password").write_text("s3rvice-pw\nignored second line\n")
    return tmp_path


def auth_toml(files: Path, ldap: str = "", auth: str = "") -> str:
    return f"""{BASE}
[auth]
login_listen = "0.0.0.0:7645"
{auth}
[auth.ldap]
url = "ldaps://ldap.example.com"
ca_file = "{files / "ca.pem"}"
bind_dn = "cn=vdvs,ou=services,dc=example,dc=com"
bind_password_file = "{files / "ldap.password"}"
user_search_base = "ou=people,dc=example,dc=com"
group_search_base = "ou=groups,dc=example,dc=com"
{ldap}
"""


def load(files: Path, text: str) -> BrokerConfig:
    path = files / "broker.toml"
    path.write_text(text)
    return BrokerConfig.load(path)


def refusal(files: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(files, text)
    return str(caught.value)


def test_a_broker_toml_without_auth_serves_no_login(files: Path) -> None:
    assert load(files, BASE).auth is None


def test_the_defaults_of_auth_ldap(files: Path) -> None:
    auth = load(files, auth_toml(files)).auth
    assert auth is not None
    ldap = auth.ldap
    assert (auth.login_listen, auth.failed_logins_per_minute) == ("0.0.0.0:7645", 5)
    assert (ldap.host, ldap.port, ldap.use_ssl, ldap.start_tls) == ("ldap.example.com", 636, True, False)
    assert (ldap.user_filter, ldap.group_filter, ldap.group_attribute) == ("(uid={user})", "(member={dn})", "")
    assert (ldap.login_hours, ldap.timeout_s) == (8.0, 10.0)
    assert ldap.read_bind_password() == "s3rvice-pw"


def test_starttls_on_ldap_url_with_its_port(files: Path) -> None:
    text = auth_toml(files, 'start_tls = true\nlogin_hours = 0.5\ntimeout_s = 3\ngroup_filter = "(memberUid={user})"')
    ldap = load(files, text.replace("ldaps://ldap.example.com", "ldap://ldap.example.com:3389")).auth.ldap  # type: ignore[union-attr]
    assert (ldap.port, ldap.use_ssl, ldap.start_tls, ldap.login_hours, ldap.timeout_s) == (3389, False, True, 0.5, 3.0)
    assert ldap.group_filter == "(memberUid={user})"


def test_the_settings_survive_a_round_trip_through_the_file(files: Path) -> None:
    config = load(files, auth_toml(files, 'group_attribute = "memberOf"', "failed_logins_per_minute = 3"))
    again = load(files, config.to_toml())
    assert again.auth == config.auth


@pytest.mark.parametrize(
    ("ldap", "auth", "message"),
    [
        (
            'bind_password = "hunter2"',
            "",
            "auth.ldap.bind_password is not accepted: put the password in a file (bind_password_file)",
        ),
        ('colour = "blue"', "", "unknown auth.ldap setting(s) ['colour']"),
        ("start_tls = true", "", "auth.ldap.start_tls = true is for ldap:// URLs (ldaps:// is TLS already)"),
        ('user_filter = "uid={user}"', "", "auth.ldap.user_filter='uid={user}' (an LDAP filter in parentheses"),
        ('user_filter = "(uid=alice)"', "", "auth.ldap.user_filter='(uid=alice)' names none of {user}"),
        ('group_filter = "(member=x)"', "", "auth.ldap.group_filter='(member=x)' names none of {dn} {user}"),
        ("login_hours = 0", "", "auth.ldap.login_hours=0 (must be more than 0, at most 744)"),
        ('login_hours = "8"', "", "auth.ldap.login_hours must be a number"),
        ("timeout_s = -1", "", "auth.ldap.timeout_s=-1 (must be more than 0, at most 300)"),
        ("", "failed_logins_per_minute = 0", "auth.failed_logins_per_minute=0 (a whole number, 1 or more)"),
        ("", "users = 3", "unknown auth setting(s) ['users']"),
    ],
)
def test_a_wrong_setting_is_named_with_the_file(files: Path, ldap: str, auth: str, message: str) -> None:
    text = refusal(files, auth_toml(files, ldap, auth))
    assert text.startswith(f"config file {files / 'broker.toml'}: {message}"), text
    assert "hunter2" not in text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "ldaps://ldap.example.com",
            "ldap://ldap.example.com",
            "auth.ldap.url='ldap://ldap.example.com' without "
            "start_tls = true would send passwords in clear: use ldaps:// or set start_tls = true",
        ),
        (
            "ldaps://ldap.example.com",
            "https://ldap.example.com",
            "auth.ldap.url='https://ldap.example.com' (give ldaps://HOST[:636] or ldap://HOST[:389])",
        ),
        (
            "ldaps://ldap.example.com",
            "ldaps://ldap.example.com/dc=x",
            "auth.ldap.url='ldaps://ldap.example.com/dc=x' has a path or query",
        ),
        (
            'login_listen = "0.0.0.0:7645"',
            'login_listen = "unix:///run/login.sock"',
            "auth.login_listen='unix:///run/login.sock' (give HOST:PORT)",
        ),
        ("ca.pem", "missing.pem", "auth.ldap.ca_file {files}/missing.pem not found"),
        ("ldap.password", "missing.password", "auth.ldap.bind_password_file {files}/missing.password not found"),
        (
            'group_search_base = "ou=groups,dc=example,dc=com"',
            "",
            "auth.ldap.group_search_base is required (or group_attribute, e.g. 'memberOf')",
        ),
        ('user_search_base = "ou=people,dc=example,dc=com"', "", "auth.ldap.user_search_base is required"),
        ("[auth.ldap]", "[auth.directory]", "unknown auth setting(s) ['directory']"),
    ],
)
def test_a_wrong_or_missing_value_is_named_with_the_file(files: Path, old: str, new: str, message: str) -> None:
    text = auth_toml(files)
    assert old in text
    refused = refusal(files, text.replace(old, new))
    assert refused.startswith(f"config file {files / 'broker.toml'}: {message.format(files=files)}"), refused


def test_an_auth_table_without_ldap_says_what_is_missing(files: Path) -> None:
    text = refusal(files, BASE + '[auth]\nlogin_listen = "0.0.0.0:7645"\n')
    assert text == (
        f"config file {files / 'broker.toml'}: [auth] needs an [auth.ldap] table: the directory that checks passwords"
    )


def test_an_empty_password_file_is_named_when_read(files: Path) -> None:
    (files / "ldap.password").write_text("")
    settings = LdapSettings.from_dict(
        {
            "url": "ldaps://h",
            "bind_dn": "cn=x",
            "bind_password_file": str(files / "ldap.password"),
            "user_search_base": "dc=x",
            "group_attribute": "memberOf",
        }
    )
    with pytest.raises(ValueError, match=r"^auth.ldap.bind_password_file .*ldap.password is empty$"):
        settings.read_bind_password()
