"""A real OpenLDAP directory for the login tests: one slapd for the session (users, groups, TLS),
and a slapd of a test's own for the tests that stop or freeze it."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from testkit.slapd import SERVICE_DN, DirectoryGroup, DirectoryUser, Slapd, unavailable_reason
from vdvs.broker.auth_config import AuthSettings, LdapSettings

# Passwords nobody could mistake for other text: the tests look for them in logs and errors.
PASSWORDS = {name: f"Pw-{name}-{secrets.token_hex(6)}" for name in ("alice", "bob", "carol", "dup")}
USERS = [
    DirectoryUser("alice", PASSWORDS["alice"]),
    DirectoryUser("bob", PASSWORDS["bob"]),
    DirectoryUser("carol", PASSWORDS["carol"]),  # in no group
    DirectoryUser("dup", PASSWORDS["dup"]),
    DirectoryUser("dup", PASSWORDS["dup"], ou="contractors"),  # one login name, two entries
]
GROUPS = [
    DirectoryGroup("web-admins", ("alice", "bob")),
    DirectoryGroup("db-admins", ("alice",)),
]


def start_slapd(root: Path) -> Slapd:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    slapd = Slapd(root)
    slapd.start(USERS, GROUPS)
    return slapd


@pytest.fixture(scope="session")
def directory() -> Iterator[Slapd]:
    root = Path(tempfile.mkdtemp(prefix="vdvs-ldap-"))
    try:
        slapd = start_slapd(root)
        try:
            yield slapd
        finally:
            slapd.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_directory(tmp_path: Path) -> Iterator[Slapd]:
    """A slapd for this test alone (it may stop or freeze it)."""
    slapd = start_slapd(tmp_path / "slapd")
    try:
        yield slapd
    finally:
        slapd.stop()


def ldap_settings(slapd: Slapd, *, start_tls: bool = False, **changes: Any) -> LdapSettings:
    """The [auth.ldap] settings of a broker using ``slapd`` (ldaps, or ldap:// with StartTLS)."""
    settings = LdapSettings(
        url=slapd.ldap_url if start_tls else slapd.ldaps_url,
        start_tls=start_tls,
        ca_file=slapd.ca_file,
        bind_dn=SERVICE_DN,
        bind_password_file=slapd.service_password_file,
        user_search_base=slapd.people_base,
        group_search_base=slapd.groups_base,
        timeout_s=10,
    )
    return replace(settings, **changes) if changes else settings


def auth_settings(slapd: Slapd, listen: str = "127.0.0.1:0", per_minute: int = 5, **changes: Any) -> AuthSettings:
    return AuthSettings(login_listen=listen, ldap=ldap_settings(slapd, **changes), failed_logins_per_minute=per_minute)
