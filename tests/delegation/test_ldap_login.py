"""A directory login acting as what its groups are granted: `vdvs login` against a real slapd, grants
on the group's DN as an admin typed it (any case, spaces after commas), then the plain `vdvs` command
finding the broker and the bundle from the login alone (ViPR: users mapped into tenants by groups)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testkit.broker_process import CLI_TIMEOUT_S, VDVS, cli_env
from testkit.slapd import Slapd
from testkit.system import Result
from tests.delegation.harness import Denv
from tests.login.conftest import PASSWORDS, auth_settings, directory

__all__ = ["directory"]  # the session's slapd, a fixture of tests/login

WEB_ADMINS_AS_TYPED = "ldap-group:CN=Web-Admins, OU=groups,DC=example,DC=org"


@pytest.fixture
async def lenv(short_tmp: Path, directory: Slapd) -> AsyncIterator[Denv]:
    env = Denv(short_tmp, auth=auth_settings(directory))
    assert env.init().rc == 0
    env.start()
    try:
        yield env
    finally:
        await env.close()


def vdvs(home: Path, *args: str, password: str | None = None) -> Result:
    """The vdvs command of a user whose config (and login) is under ``home``; no --broker, no socket."""
    env = {**cli_env(), "XDG_CONFIG_HOME": str(home)}
    env.pop("VDVS_BROKER", None)
    env.pop("VDVS_BUNDLE", None)
    done = subprocess.run(
        [VDVS, *args],
        input=None if password is None else password + "\n",
        stdin=subprocess.DEVNULL if password is None else None,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=env,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def expired_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ended - dt.timedelta(hours=8)).not_valid_after(ended)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


def login(env: Denv, home: Path, user: str) -> None:
    ca = str(env.config.pki_dir / "ca.pem")
    res = vdvs(home, "login", "--broker", env.status()["LoginListen"], "--user", user, "--ca", ca,
               "--password-stdin", password=PASSWORDS[user])  # fmt: skip
    assert res.rc == 0, res


async def test_a_login_acts_as_its_directory_groups_grants_whatever_case_the_grant_was_typed_in(
    lenv: Denv, tmp_path: Path
) -> None:
    lenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1")
    lenv.ok("vmgroup", "create", "--name", "db", "--default-datastore", "local1")
    lenv.ok("admin", "grant", "--principal", WEB_ADMINS_AS_TYPED, "--role", "vmgroup-admin", "--vmgroup", "web")
    [grant] = lenv.js("admin", "grants")
    assert grant["principal"] == "ldap-group:cn=web-admins,ou=groups,dc=example,dc=org"

    bob, carol = tmp_path / "bob", tmp_path / "carol"
    login(lenv, bob, "bob")  # in web-admins
    login(lenv, carol, "carol")  # in no group
    listed = vdvs(bob, "vmgroup", "ls", "--json")
    assert listed.rc == 0, listed
    assert [g["name"] for g in json.loads(listed.out)] == ["web"]
    changed = vdvs(bob, "vmgroup", "update", "--name", "web", "--description", "bob's")
    assert changed.rc == 0, changed
    refused = vdvs(bob, "vmgroup", "update", "--name", "db", "--description", "bob's")
    assert refused.rc != 0 and refused.out == ""
    assert refused.err.startswith("ERROR:") and "db" in refused.err
    nothing = vdvs(carol, "vmgroup", "ls", "--json")
    assert nothing.rc == 0, nothing
    assert json.loads(nothing.out) == []


async def test_an_expired_login_is_refused_before_any_call_saying_when(lenv: Denv, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    login(lenv, home, "alice")
    info = home / "vdvs" / "login" / "login.json"
    assert json.loads(info.read_text())["admin_broker"] == lenv.admin_address
    # The login's end is its certificate's: replace it with one that has already ended.
    (home / "vdvs" / "login" / "admin.pem").write_bytes(expired_certificate())
    res = vdvs(home, "vmgroup", "ls")
    assert res.rc != 0 and res.out == ""
    assert res.err.startswith("ERROR:your login expired at "), res.err
    assert res.err.rstrip().endswith("; run vdvs login again"), res.err
