"""The directory conversation of a login (broker/ldap_directory.py) against a real slapd: who the
user is, which groups, and each way it fails, in the words the user will read."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.slapd import SERVICE_DN, Slapd, make_tls_files
from tests.login.conftest import PASSWORDS, ldap_settings
from vdvs.broker.ldap_directory import Directory
from vdvs.tenancy.errors import Err, VdvsError

ALICE_GROUPS = (Slapd.group_dn("db-admins"), Slapd.group_dn("web-admins"))


def refusal(directory: Directory, user: str, password: str) -> VdvsError:
    with pytest.raises(VdvsError) as caught:
        directory.authenticate(user, password)
    assert not password or password not in caught.value.message
    return caught.value


@pytest.mark.parametrize("start_tls", [False, True], ids=["ldaps", "starttls"])
def test_a_user_in_two_groups_is_found_with_both(directory: Slapd, start_tls: bool) -> None:
    found = Directory(ldap_settings(directory, start_tls=start_tls)).authenticate("alice", PASSWORDS["alice"])
    assert found.dn == "uid=alice,ou=people,dc=example,dc=org"
    assert found.groups == ALICE_GROUPS


def test_groups_may_come_from_the_users_memberof_attribute(directory: Slapd) -> None:
    settings = ldap_settings(directory, group_attribute="memberOf", group_search_base="")
    assert Directory(settings).authenticate("alice", PASSWORDS["alice"]).groups == ALICE_GROUPS


def test_a_user_in_no_group_has_none(directory: Slapd) -> None:
    assert Directory(ldap_settings(directory)).authenticate("carol", PASSWORDS["carol"]).groups == ()


def test_the_login_name_matches_without_case_as_the_directory_does(directory: Slapd) -> None:
    found = Directory(ldap_settings(directory)).authenticate("Bob", PASSWORDS["bob"])
    assert (found.dn, found.groups) == ("uid=bob,ou=people,dc=example,dc=org", (Slapd.group_dn("web-admins"),))


def test_a_wrong_password_is_refused_as_such(directory: Slapd) -> None:
    error = refusal(Directory(ldap_settings(directory)), "alice", PASSWORDS["bob"])
    assert (error.err, error.message) == (Err.LOGIN_WRONG_PASSWORD, "Login refused for alice: wrong password")


def test_another_users_password_over_starttls_is_wrong_too(directory: Slapd) -> None:
    error = refusal(Directory(ldap_settings(directory, start_tls=True)), "bob", PASSWORDS["alice"])
    assert error.message == "Login refused for bob: wrong password"


def test_an_unknown_user_is_refused_as_such(directory: Slapd) -> None:
    error = refusal(Directory(ldap_settings(directory)), "mallory", "whatever-1")
    assert (error.err, error.message) == (Err.LOGIN_UNKNOWN_USER, "Login refused: unknown user mallory")


def test_a_name_matching_two_entries_is_no_user(directory: Slapd) -> None:
    error = refusal(Directory(ldap_settings(directory)), "dup", PASSWORDS["dup"])
    assert error.message == "Login refused: unknown user dup"


@pytest.mark.parametrize("name", ["alic*", "*lice", "al*e", "alice)(uid=alice"])
def test_filter_characters_in_a_name_match_nothing(directory: Slapd, name: str) -> None:
    """Unescaped, each of these would find alice, and her password would let the login through."""
    error = refusal(Directory(ldap_settings(directory)), name, PASSWORDS["alice"])
    assert error.message == f"Login refused: unknown user {name}"


def test_an_empty_password_is_refused_without_a_bind(directory: Slapd) -> None:
    """LDAP takes a simple bind without a password for an anonymous one, which succeeds."""
    binds = directory.binds_of(Slapd.user_dn("alice"))
    error = refusal(Directory(ldap_settings(directory)), "alice", "")
    assert error.message == "Login refused: empty password"
    assert directory.binds_of(Slapd.user_dn("alice")) == binds


def test_a_wrong_service_password_names_the_service_account(directory: Slapd, tmp_path: Path) -> None:
    wrong = tmp_path / "service.password"
    wrong.write_text("not-the-service-password\n")
    error = refusal(Directory(ldap_settings(directory, bind_password_file=wrong)), "alice", PASSWORDS["alice"])
    assert error.err == Err.DIRECTORY_SERVICE_BIND
    assert error.message == (
        f"Directory 127.0.0.1:{directory.ldaps_port} refused the broker's service account {SERVICE_DN} "
        "(invalidCredentials): check [auth.ldap] bind_dn and bind_password_file"
    )


@pytest.mark.parametrize("start_tls", [False, True], ids=["ldaps", "starttls"])
def test_a_directory_certificate_of_another_ca_is_refused(directory: Slapd, tmp_path: Path, start_tls: bool) -> None:
    other_ca, _, _ = make_tls_files(tmp_path / "other", "some other CA")
    settings = ldap_settings(directory, start_tls=start_tls, ca_file=other_ca)
    binds = directory.binds_of(SERVICE_DN)
    error = refusal(Directory(settings), "alice", PASSWORDS["alice"])
    assert error.err == Err.DIRECTORY_TLS
    assert error.message == (
        f"TLS to directory {settings.address} failed: its certificate is not trusted by the CA in {other_ca} "
        "(self-signed certificate in certificate chain)"
    )
    assert directory.binds_of(SERVICE_DN) == binds  # not even the service password was sent


def test_a_directory_certificate_not_naming_the_host_is_refused(directory: Slapd) -> None:
    """The certificate names 127.0.0.1 only: reached as localhost, it is not the directory's."""
    settings = ldap_settings(directory, url=f"ldaps://localhost:{directory.ldaps_port}")
    error = refusal(Directory(settings), "alice", PASSWORDS["alice"])
    assert error.message == (
        f"TLS to directory localhost:{directory.ldaps_port} failed: its certificate does not name localhost"
    )


def test_a_stopped_directory_is_unreachable(own_directory: Slapd) -> None:
    directory = Directory(ldap_settings(own_directory))
    assert directory.authenticate("bob", PASSWORDS["bob"]).dn == Slapd.user_dn("bob")
    own_directory.stop()
    error = refusal(directory, "bob", PASSWORDS["bob"])
    assert error.err == Err.DIRECTORY_UNREACHABLE
    assert (
        error.message
        == f"Directory 127.0.0.1:{own_directory.ldaps_port} is unreachable: [Errno 111] Connection refused"
    )


@pytest.mark.parametrize("start_tls", [False, True], ids=["ldaps", "starttls"])
def test_a_frozen_directory_times_out(own_directory: Slapd, start_tls: bool) -> None:
    settings = ldap_settings(own_directory, start_tls=start_tls, timeout_s=1)
    own_directory.pause()
    try:
        error = refusal(Directory(settings), "bob", PASSWORDS["bob"])
    finally:
        own_directory.resume()
    assert (error.err, error.message) == (
        Err.DIRECTORY_TIMEOUT,
        f"Directory {settings.address} did not answer within 1s",
    )
