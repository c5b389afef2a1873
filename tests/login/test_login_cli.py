"""`vdvs login` and `vdvs whoami` end to end: the real command against a real `vdvs broker` process
(its [auth] in broker.toml, logging at debug) and a real slapd."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from testkit.broker_env import make_config
from testkit.broker_process import CLI_TIMEOUT_S, VDVS, BrokerProcess, cli_env
from testkit.slapd import Slapd
from testkit.system import Result
from tests.login.conftest import PASSWORDS, auth_settings

EXPIRY_WAIT_S = 60.0


def vdvs(*args: str, password: str | None = None, env: dict[str, str] | None = None) -> Result:
    """The vdvs command; ``password`` goes to its standard input (else it has none: no terminal)."""
    done = subprocess.run(
        [VDVS, *args],
        input=None if password is None else password + "\n",
        stdin=subprocess.DEVNULL if password is None else None,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**cli_env(), **(env or {})},
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_broker(root: Path, directory: Slapd, **ldap: float) -> BrokerProcess:
    config = make_config(root)
    config.auth = auth_settings(directory, **ldap)
    broker = BrokerProcess(config, root / "broker")
    init = broker.init(root)
    assert init.rc == 0, init
    broker.start("--log-level", "debug")
    return broker


@pytest.fixture
def broker(short_tmp: Path, directory: Slapd) -> Iterator[BrokerProcess]:
    proc = run_broker(short_tmp, directory)
    try:
        yield proc
    finally:
        proc.stop()


def login_address(broker: BrokerProcess) -> str:
    return broker.status()["LoginListen"]


def ca_of(broker: BrokerProcess) -> str:
    return str(broker.config.pki_dir / "ca.pem")


def shown_end(bundle: Path) -> str:
    cert = x509.load_pem_x509_certificate((bundle / "admin.pem").read_bytes())
    return cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S UTC")


def test_login_writes_a_private_bundle_and_says_who_you_are(broker: BrokerProcess, tmp_path: Path) -> None:
    out = tmp_path / "login"
    res = vdvs("login", "--broker", login_address(broker), "--user", "alice", "--ca", ca_of(broker), "--out", str(out),
               "--password-stdin", password=PASSWORDS["alice"])  # fmt: skip
    assert res.rc == 0, res
    assert res.out == (
        f"Logged in as alice (uid=alice,ou=people,dc=example,dc=org) until {shown_end(out)}\n"
        "Principals:\n"
        "  ldap-user:uid=alice,ou=people,dc=example,dc=org\n"
        "  ldap-group:cn=db-admins,ou=groups,dc=example,dc=org\n"
        "  ldap-group:cn=web-admins,ou=groups,dc=example,dc=org\n"
        f"Bundle: {out}\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["admin.key", "admin.pem", "ca.pem", "login.json"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "admin.key").stat().st_mode) == 0o600
    assert (out / "ca.pem").read_text() == Path(ca_of(broker)).read_text()
    whoami = vdvs("whoami", "--bundle", str(out))
    assert (whoami.rc, whoami.out) == (0, res.out)


def test_a_second_login_takes_the_broker_and_ca_from_the_first(broker: BrokerProcess, tmp_path: Path) -> None:
    """Without --out the bundle goes to ~/.config/vdvs/login ($XDG_CONFIG_HOME/vdvs/login)."""
    home = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    first = vdvs("login", "--broker", login_address(broker), "--user", "alice", "--ca", ca_of(broker),
                 "--password-stdin", password=PASSWORDS["alice"], env=home)  # fmt: skip
    assert first.rc == 0, first
    second = vdvs("login", "--user", "bob", "--password-stdin", password=PASSWORDS["bob"], env=home)
    assert second.rc == 0, second
    shown = vdvs("whoami", "--json", env=home)
    assert shown.rc == 0, shown
    assert '"user": "bob"' in shown.out
    assert f'"bundle": "{tmp_path / "config" / "vdvs" / "login"}"' in shown.out


def test_each_refusal_is_one_line_and_no_password_is_shown_or_logged(broker: BrokerProcess, tmp_path: Path) -> None:
    address, ca = login_address(broker), ca_of(broker)
    out = str(tmp_path / "login")
    cases = [  # exit 2: the broker refused; exit 1: it was never asked
        (("--user", "alice", "--password-stdin"), PASSWORDS["bob"], 2, "Login refused for alice: wrong password"),
        (("--user", "mallory", "--password-stdin"), PASSWORDS["carol"], 2, "Login refused: unknown user mallory"),
        (("--user", "alice"), None, 1, "no terminal to read the password from: pipe it in with --password-stdin"),
        (("--user", "alice", "--password-stdin"), "", 1, "no password on standard input (--password-stdin)"),
    ]
    for args, password, rc, expected in cases:
        res = vdvs("login", "--broker", address, "--ca", ca, "--out", out, *args, password=password)
        assert (res.rc, res.out, res.err) == (rc, "", f"ERROR:{expected}\n"), args
    no_ca = vdvs("login", "--broker", address, "--user", "alice", "--out", out, "--password-stdin",
                 password=PASSWORDS["alice"])  # fmt: skip
    assert no_ca.err == (
        "ERROR:no CA to verify the broker with: give --ca FILE (the broker's ca.pem, in its pki_dir), "
        f"or log in once with it so {out}/ca.pem exists\n"
    )
    ok = vdvs("login", "--broker", address, "--ca", ca, "--out", out, "--user", "bob", "--password-stdin",
              password=PASSWORDS["bob"])  # fmt: skip
    assert ok.rc == 0, ok
    log = broker.log()
    assert "login of bob as uid=bob,ou=people,dc=example,dc=org with 1 group(s)" in log
    assert "Login refused for alice: wrong password" in log
    assert '"level": "debug"' in log  # the broker did log at debug
    for secret in (*PASSWORDS.values(), broker.config.auth.ldap.read_bind_password()):  # type: ignore[union-attr]
        assert secret not in log
    key_lines = (Path(out) / "admin.key").read_text().splitlines()[1:-1]  # the private key's base64 lines
    assert key_lines
    assert not [line for line in key_lines if line in log]


def test_a_directory_that_went_away_is_named(short_tmp: Path, own_directory: Slapd, tmp_path: Path) -> None:
    broker = run_broker(short_tmp, own_directory)
    try:
        own_directory.stop()
        res = vdvs("login", "--broker", login_address(broker), "--ca", ca_of(broker), "--out", str(tmp_path / "l"),
                   "--user", "bob", "--password-stdin", password=PASSWORDS["bob"])  # fmt: skip
    finally:
        broker.stop()
    assert res.err == (
        f"ERROR:Directory 127.0.0.1:{own_directory.ldaps_port} is unreachable: [Errno 111] Connection refused\n"
    )


def test_an_expired_login_says_when_and_what_to_do(short_tmp: Path, directory: Slapd, tmp_path: Path) -> None:
    broker = run_broker(short_tmp, directory, login_hours=0.0005)  # 1.8 s
    out = tmp_path / "login"
    try:
        res = vdvs("login", "--broker", login_address(broker), "--ca", ca_of(broker), "--out", str(out),
                   "--user", "carol", "--password-stdin", password=PASSWORDS["carol"])  # fmt: skip
    finally:
        broker.stop()
    assert res.rc == 0, res
    deadline = time.monotonic() + EXPIRY_WAIT_S
    while (whoami := vdvs("whoami", "--bundle", str(out))).rc == 0:
        assert time.monotonic() < deadline, f"the login did not expire in {EXPIRY_WAIT_S:g}s"
        time.sleep(0.2)
    end = x509.load_pem_x509_certificate((out / "admin.pem").read_bytes()).not_valid_after_utc
    assert dt.datetime.now(dt.UTC) >= end
    assert (whoami.rc, whoami.out) == (1, "")
    assert whoami.err == f"ERROR:your login expired at {shown_end(out)}; run vdvs login again\n"
