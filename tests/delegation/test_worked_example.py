"""docs/tenancy.md's worked example, command for command: a provider (platform) admin, two team admins
who log in from LDAP groups, web VMs joining their vmgroup by vCenter folder, and one datastore
shared into both teams' vmgroups with ceilings; then what each admin sees and is refused.

Real processes throughout: a `vdvs broker` subprocess on the vsphere backend against vcsim (VPX: it
has folders), [auth.ldap] on a slapd of this module's own (two users, each in one group), the real
`vdvs` CLI as root on the admin socket and as each logged-in user (no --broker: the login is found),
and two simulator VMs calling with their enrolled certificates.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.slapd import DirectoryGroup, DirectoryUser, Slapd, unavailable_reason
from testkit.system import Result
from testkit.vsphere_sim import DATASTORE, Inspector, Sim, stop_sim
from tests.broker.helpers import FILESYSTEMS
from tests.delegation.harness import Denv
from tests.delegation.test_ldap_login import vdvs
from tests.login.conftest import auth_settings
from vdvs.plugin.broker_client import BrokerError

PASSWORDS = {name: f"Pw-{name}-{secrets.token_hex(6)}" for name in ("wendy", "dave")}
WEB_ADMINS = "ldap-group:cn=web-admins,ou=groups,dc=example,dc=org"
DB_ADMINS = "ldap-group:cn=db-admins,ou=groups,dc=example,dc=org"
DAVE = "ldap-user:uid=dave,ou=people,dc=example,dc=org"
CALL_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def teams() -> Iterator[Slapd]:
    """wendy in web-admins, dave in db-admins."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="vdvs-ldap-"))
    slapd = Slapd(root)
    try:
        slapd.start(
            [DirectoryUser(name, password) for name, password in PASSWORDS.items()],
            [DirectoryGroup("web-admins", ("wendy",)), DirectoryGroup("db-admins", ("dave",))],
        )
        yield slapd
    finally:
        slapd.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def vcenter() -> Iterator[Sim]:
    sim = start_sim_or_skip("vpx")
    try:
        yield sim
    finally:
        stop_sim(sim)


@pytest.fixture
async def provider(short_tmp: Path, teams: Slapd, vcenter: Sim) -> AsyncIterator[tuple[Denv, Inspector]]:
    insp = Inspector(vcenter)
    insp.reset()
    env = Denv(
        short_tmp,
        auth=auth_settings(teams),
        backend="vsphere",
        local_datastores={},
        local_vm_datastore=None,
        local_vm_datastores={},
        vsphere=vcenter.settings(),
    )
    try:
        assert env.init().rc == 0
        env.start()
        yield env, insp
    finally:
        await env.close()
        insp.reset()
        insp.close()


class Admin:
    """The `vdvs` command of one logged-in directory user (its config and login under ``home``)."""

    def __init__(self, env: Denv, home: Path, user: str) -> None:
        self.home = home
        ca = str(env.config.pki_dir / "ca.pem")
        res = vdvs(home, "login", "--broker", env.status()["LoginListen"], "--user", user, "--ca", ca,
                   "--password-stdin", password=PASSWORDS[user])  # fmt: skip
        assert res.rc == 0, res

    def run(self, *args: str) -> Result:
        return vdvs(self.home, *args)

    def ok(self, *args: str) -> str:
        res = self.run(*args)
        assert res.rc == 0, res
        return res.out.rstrip("\n")

    def js(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def refused(self, *args: str) -> str:
        res = self.run(*args)
        assert res.rc == 2 and res.out == "" and res.err.startswith("ERROR:"), res
        return res.err[len("ERROR:") :].rstrip("\n")


async def test_the_worked_example_of_docs_tenancy(provider: tuple[Denv, Inspector], tmp_path: Path) -> None:
    env, insp = provider
    web_vm, db_vm = env_vms = insp.sim.vms[0], insp.sim.vms[1]
    insp.move(web_vm.uuid, "web")  # vCenter: the web VM lives in /DC0/vm/web

    # -- the provider (root on the admin socket: the platform admin)
    bundles = {vm.name: env.enroll(vm.name, vm.uuid, tmp_path / "bundles" / vm.name) for vm in env_vms}
    env.ok("vmgroup", "create", "--name", "web", "--default-datastore", "_VM_DS", "--label", "team=web",
           "--label", "plan=standard")  # fmt: skip
    env.ok("vmgroup", "create", "--name", "db", "--default-datastore", "_VM_DS", "--label", "team=db",
           "--label", "plan=standard")  # fmt: skip
    assert env.ok("datastore", "share", "--datastore", DATASTORE, "--selector", "plan=standard",
                  "--max-volume-size", "1GB", "--max-total", "10GB") == (
        f"Shared datastore {DATASTORE} with selector plan=standard: max-volume-size 1.00GB, max-total 10.00GB"
    )  # fmt: skip
    assert env.ok("admin", "grant", "--principal", WEB_ADMINS, "--role", "vmgroup-admin", "--vmgroup", "web") == (
        f"Granted vmgroup-admin on vmgroup web to {WEB_ADMINS}"
    )
    env.ok("admin", "grant", "--principal", DB_ADMINS, "--role", "vmgroup-admin", "--vmgroup", "db")

    # -- wendy (web-admins): a folder rule, and access to the shared datastore within its ceilings
    wendy = Admin(env, tmp_path / "wendy", "wendy")
    assert wendy.ok("vmgroup", "rule", "add", "--name", "web", "--match", "folder=/DC0/vm/web", "--priority", "10") == (
        "vmgroup rule add succeeded"
    )
    access = ["vmgroup", "access", "add", "--name", "web", "--datastore", DATASTORE, "--allow-create"]
    assert wendy.refused(*access, "--volume-maxsize", "2GB", "--volume-totalsize", "10GB") == (
        f"Volume max size 2.00GB is over the max-volume-size ceiling of 1.00GB on datastore {DATASTORE} "
        "shared into vmgroup web"
    )
    assert wendy.ok(*access, "--volume-maxsize", "1GB", "--volume-totalsize", "10GB") == (
        "vmgroup access add succeeded"
    )

    # -- dave (db-admins): his VM by name; nothing of web's, nothing of the platform's
    dave = Admin(env, tmp_path / "dave", "dave")
    assert dave.ok("vmgroup", "vm", "add", "--name", "db", "--vm-list", db_vm.name) == "vmgroup vm add succeeded"
    db_access = ["vmgroup", "access", "add", "--name", "db", "--datastore", DATASTORE, "--allow-create"]
    assert dave.ok(*db_access, "--volume-maxsize", "1GB", "--volume-totalsize", "5GB") == "vmgroup access add succeeded"
    assert dave.refused("vmgroup", "rule", "add", "--name", "web", "--match", "name=*", "--priority", "5") == (
        f"{DAVE} has no vmgroup-admin grant on vmgroup web"
    )
    assert dave.refused("datastore", "share", "--datastore", DATASTORE, "--vmgroup", "db",
                        "--max-volume-size", "100GB") == f"{DAVE} has no platform-admin grant"  # fmt: skip
    assert dave.refused("vmgroup", "access", "set", "--name", "db", "--datastore", DATASTORE,
                        "--volume-totalsize", "20GB") == (
        f"Total size 20.00GB is over the max-total ceiling of 10.00GB on datastore {DATASTORE} shared into vmgroup db"
    )  # fmt: skip

    # -- the VMs: the web VM is in web by its folder, the db VM in db by dave's vm add
    web_client, db_client = env.client(bundles[web_vm.name]), env.client(bundles[db_vm.name])
    try:
        await web_client.create(f"logs@{DATASTORE}", {"size": "500mb"}, FILESYSTEMS)
        with pytest.raises(BrokerError) as too_big:
            await web_client.create(f"big@{DATASTORE}", {"size": "2gb"}, FILESYSTEMS)
        await db_client.create(f"pg@{DATASTORE}", {"size": "500mb"}, FILESYSTEMS)
    finally:
        await web_client.close()
        await db_client.close()
    assert str(too_big.value) == "Volume size exceeds the max volume size limit"

    # -- what each admin sees
    assert [g["name"] for g in wendy.js("vmgroup", "ls")] == ["web"]
    assert [g["name"] for g in dave.js("vmgroup", "ls")] == ["db"]
    assert [(v["volume"], v["vmgroup"]) for v in wendy.js("volume", "ls")] == [("logs", "web")]
    assert [(v["volume"], v["vmgroup"]) for v in dave.js("volume", "ls")] == [("pg", "db")]
    assert sorted((v["volume"], v["vmgroup"]) for v in env.js("volume", "ls")) == [("logs", "web"), ("pg", "db")]
    assert [(r["vmgroup"], r["match"]) for r in wendy.js("vmgroup", "rule", "ls")] == [("web", "folder=/DC0/vm/web")]
    assert dave.js("vmgroup", "rule", "ls") == []
    explained = wendy.js("vm", "explain", "--vm", web_vm.name)
    assert (explained["vmgroup"], explained["reason"]) == ("web", "rule of priority 10 matched: folder=/DC0/vm/web")
    assert wendy.refused("vm", "explain", "--vm", db_vm.name) == f"Cannot find vm {db_vm.name}"
    assert dave.js("vm", "explain", "--vm", db_vm.name)["source"] == "explicit"
    assert {r["vmgroup"] for r in wendy.js("show", "permissions")} == {"web"}
    # dave's refused attempt on web is filed under web: web's admins see who tried
    tried = [r for r in wendy.js("audit", "ls", "--action", "vmgroup.rule.add") if r["outcome"] == "refused"]
    assert [(r["initiator_name"], r["vmgroup"], r["reason"]) for r in tried] == [
        (DAVE, "web", f"{DAVE} has no vmgroup-admin grant on vmgroup web")
    ]
    assert dave.js("audit", "ls", "--vmgroup", "db", "--action", "vmgroup.rule.add") == []
