"""LoginService in a real broker (in this process, local backend, SQLite) with a real slapd behind
it, called over TLS with no client certificate by the CLI's own client: the certificate a login
gets, the admins row it leaves, its refusals, the failed-login limit, and what reaches the log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from testkit.broker_env import BrokerEnv, make_config
from testkit.slapd import Slapd, make_tls_files
from tests.login.conftest import PASSWORDS, auth_settings
from vdvs.broker.auth_config import AuthSettings
from vdvs.broker.pki import admin_id_from_cert
from vdvs.broker.server import Broker
from vdvs.broker.setup import init_config
from vdvs.cli.admin_client import AdminError
from vdvs.cli.login_client import login
from vdvs.proto import admin_pb2
from vdvs.tenancy.admins import KIND_LDAP

ALICE_DN = Slapd.user_dn("alice")
ALICE_PRINCIPALS = [
    f"ldap-user:{ALICE_DN}",
    f"ldap-group:{Slapd.group_dn('db-admins')}",
    f"ldap-group:{Slapd.group_dn('web-admins')}",
]


@pytest.fixture
async def start_login_broker(short_tmp: Path) -> AsyncIterator[Callable[[AuthSettings], Any]]:
    """Start a broker whose [auth] is the given settings (at most one per test)."""
    started: list[BrokerEnv] = []

    async def start(auth: AuthSettings) -> BrokerEnv:
        config = make_config(short_tmp)
        config.auth = auth
        init_config(config, short_tmp / "broker.toml")
        broker = Broker(config)
        await broker.start()
        started.append(BrokerEnv(short_tmp, config, broker))
        return started[-1]

    try:
        yield start
    finally:
        for env in started:
            await env.close()


async def call_login(env: BrokerEnv, user: str, password: str, ca: Path | None = None) -> Any:
    ca_file = ca or env.config.pki_dir / "ca.pem"
    return await asyncio.to_thread(login, env.broker.login_address, ca_file, user, password)


async def refused(env: BrokerEnv, user: str, password: str) -> AdminError:
    with pytest.raises(AdminError) as caught:
        await call_login(env, user, password)
    assert password not in caught.value.message
    return caught.value


@pytest.mark.parametrize("hours", [8.0, 0.5])
async def test_a_login_gets_a_certificate_of_login_hours_for_the_user_and_each_group(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd, hours: float
) -> None:
    env = await start_login_broker(auth_settings(directory, login_hours=hours))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reply = await call_login(env, "alice", PASSWORDS["alice"])
    after = dt.datetime.now(dt.UTC)
    assert list(reply.principals) == ALICE_PRINCIPALS
    assert reply.user_dn == ALICE_DN
    cert = x509.load_pem_x509_certificate(reply.cert_pem.encode())
    lifetime = dt.timedelta(hours=hours)
    assert before + lifetime <= cert.not_valid_after_utc <= after + lifetime
    assert reply.not_after == cert.not_valid_after_utc.isoformat()
    assert admin_id_from_cert(reply.cert_pem.encode()) == (reply.admin_id, reply.serial)
    assert reply.ca_pem == (env.config.pki_dir / "ca.pem").read_text()
    store = env.store()
    try:
        [row] = store.admins_named("alice")
    finally:
        store.close()
    assert (row.id, row.kind, list(row.principals), row.serial) == (
        reply.admin_id,
        KIND_LDAP,
        ALICE_PRINCIPALS,
        reply.serial,
    )
    assert (row.not_after, row.revoked) == (reply.not_after, False)


async def test_a_login_over_starttls_and_one_in_no_group(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd
) -> None:
    env = await start_login_broker(auth_settings(directory, start_tls=True))
    assert list((await call_login(env, "carol", PASSWORDS["carol"])).principals) == [
        f"ldap-user:{Slapd.user_dn('carol')}"
    ]
    assert list((await call_login(env, "alice", PASSWORDS["alice"])).principals) == ALICE_PRINCIPALS


async def test_refusals_reach_the_client_in_one_line_and_record_no_admin(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd
) -> None:
    env = await start_login_broker(auth_settings(directory))
    wrong = await refused(env, "alice", PASSWORDS["bob"])
    unknown = await refused(env, "mallory", PASSWORDS["bob"])
    empty_name = await refused(env, "  ", PASSWORDS["bob"])
    assert [(e.code, e.message) for e in (wrong, unknown, empty_name)] == [
        (660, "Login refused for alice: wrong password"),
        (661, "Login refused: unknown user mallory"),
        (663, "Login refused: empty user name"),
    ]
    store = env.store()
    try:
        assert store.list_admins() == []
    finally:
        store.close()


async def test_a_client_holding_another_ca_does_not_send_its_password(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd, tmp_path: Path
) -> None:
    env = await start_login_broker(auth_settings(directory))
    other_ca, _, _ = make_tls_files(tmp_path / "other")
    binds = directory.binds_of(ALICE_DN)
    with pytest.raises(AdminError) as caught:
        await call_login(env, "alice", PASSWORDS["alice"], ca=other_ca)
    assert caught.value.message == (
        f"the broker at {env.broker.login_address} failed the TLS check against the CA in {other_ca} "
        "(is that the broker's CA, and the broker's [auth] login_listen port?)"
    )
    assert directory.binds_of(ALICE_DN) == binds


async def test_failed_logins_of_a_name_are_limited_per_minute(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd
) -> None:
    """Three failures a minute (as configured), then the name is refused without asking the directory,
    even with the right password; other names are not held up."""
    env = await start_login_broker(auth_settings(directory, per_minute=3))
    for _ in range(3):
        assert (await refused(env, "bob", PASSWORDS["alice"])).code == 660
    binds = directory.binds_of(Slapd.user_dn("bob"))
    limited = await refused(env, "BOB", PASSWORDS["bob"])
    assert limited.code == 662
    prefix, wait = limited.message.rsplit("try again in ", 1)
    assert prefix == "Login refused for BOB: too many failed logins (at most 3 a minute); "
    assert 1 <= int(wait.removesuffix("s")) <= 60
    assert directory.binds_of(Slapd.user_dn("bob")) == binds
    assert list((await call_login(env, "alice", PASSWORDS["alice"])).principals) == ALICE_PRINCIPALS


async def test_a_frozen_directory_holds_up_only_the_login(
    start_login_broker: Callable[[AuthSettings], Any], own_directory: Slapd
) -> None:
    """The directory conversation runs on a thread: while slapd is frozen, the broker answers its
    admin socket; once slapd thaws, the waiting login completes."""
    env = await start_login_broker(auth_settings(own_directory, timeout_s=60))
    own_directory.pause()
    try:
        pending = asyncio.ensure_future(call_login(env, "bob", PASSWORDS["bob"]))
        status = await asyncio.to_thread(env.admin, "Status", admin_pb2.StatusRequest())
        assert not pending.done()
    finally:
        own_directory.resume()
    items = {item.key: item.value for item in status.items}  # type: ignore[attr-defined]
    assert items["LoginListen"] == env.broker.login_address
    reply = await asyncio.wait_for(pending, 60)
    assert list(reply.principals) == [f"ldap-user:{Slapd.user_dn('bob')}", f"ldap-group:{Slapd.group_dn('web-admins')}"]


async def test_the_broker_bounds_a_login_by_timeout_s(
    start_login_broker: Callable[[AuthSettings], Any], own_directory: Slapd
) -> None:
    env = await start_login_broker(auth_settings(own_directory, timeout_s=1))
    own_directory.pause()
    try:
        error = await refused(env, "bob", PASSWORDS["bob"])
    finally:
        own_directory.resume()
    assert (error.code, error.message) == (
        665,
        f"Directory 127.0.0.1:{own_directory.ldaps_port} did not answer within 1s",
    )


async def test_no_password_reaches_the_log_even_at_debug(
    start_login_broker: Callable[[AuthSettings], Any], directory: Slapd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: vdvs, grpc, ldap3, asyncio
    env = await start_login_broker(auth_settings(directory))
    await call_login(env, "alice", PASSWORDS["alice"])
    await refused(env, "bob", PASSWORDS["carol"])
    await refused(env, "nobody", PASSWORDS["dup"])
    assert f"login of alice as {ALICE_DN} with 2 group(s)" in caplog.text
    assert "Login refused for bob: wrong password" in caplog.text
    for user in ("alice", "carol", "dup"):
        assert PASSWORDS[user] not in caplog.text
    assert directory.service_password not in caplog.text
