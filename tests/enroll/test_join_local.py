"""`vdvs vm token create|ls|rm` and `vdvs plugin join` end to end on the local backend: the real
commands as subprocesses against a real `vdvs broker` process (the token alone suffices there)."""

from __future__ import annotations

import asyncio
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.broker_process import CLI_TIMEOUT_S, BrokerProcess, cli_env
from tests.enroll.harness import fake_vm, join_argv, make_token, run, start_broker

RACERS = 8


@pytest.fixture
def broker(short_tmp: Path) -> Iterator[BrokerProcess]:
    proc = start_broker(short_tmp)
    try:
        proc.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1")
        yield proc
    finally:
        proc.stop()


def test_a_vm_joins_its_vmgroup_with_a_token_and_calls_with_the_bundle(broker: BrokerProcess, tmp_path: Path) -> None:
    made = make_token(broker, "web")
    assert made["entry"]["uses"] == 1 and made["entry"]["vmgroup"] == "web"
    assert made["command"].startswith(f"vdvs plugin join --broker {made['join_listen']} --token {made['token']}")
    vm_uuid, uuid_file = fake_vm(tmp_path, "vm1")
    out = tmp_path / "bundle"
    res = run(join_argv(broker, made["token"], made["ca_sha256"], "vm1", out, uuid_file))
    assert res.rc == 0, res
    assert res.out.startswith("Joined vmgroup web as VM vm1: certificate ")
    assert stat.S_IMODE((out / "vm.key").stat().st_mode) == 0o600
    assert (out / "ca.pem").read_bytes() == (broker.config.pki_dir / "ca.pem").read_bytes()
    members = broker.js("vmgroup", "vm", "ls", "--name", "web")
    assert [(m["uuid"], m["name"]) for m in members] == [(vm_uuid, "vm1")]

    async def calls() -> str:
        client = broker.client(out)
        try:
            await client.create("joined-vol", {"size": "10mb"}, ["ext4"])
            return str((await client.get("joined-vol")).full_name)
        finally:
            await client.close()

    assert asyncio.run(calls()) == "joined-vol@local1"
    # the token is used up: another VM is refused, in one line naming it
    _, other_file = fake_vm(tmp_path, "vm2")
    again = run(join_argv(broker, made["token"], made["ca_sha256"], "vm2", tmp_path / "b2", other_file))
    token_id = made["entry"]["id"]
    assert again.rc == 1
    assert again.err.strip() == f"Error: Join refused: token {token_id} has been used 1 time(s), all it allows"
    listed = broker.js("vm", "token", "ls")
    assert [(t["id"], t["used"], t["uses"]) for t in listed] == [(token_id, 1, 1)]
    joins = broker.js("audit", "ls", "--action", "vm.join")
    assert sorted((r["initiator_name"], r["outcome"]) for r in joins) == [
        ("vm1", "success"),
        ("vm2", "refused"),
    ]
    created = broker.js("audit", "ls", "--action", "vm.token.create")
    assert len(created) == 1 and made["token"].split(".")[1] not in str(created)  # never the secret


def test_of_vms_racing_for_a_one_use_token_exactly_one_joins(broker: BrokerProcess, tmp_path: Path) -> None:
    made = make_token(broker, "web", "--uses", "1")
    procs = []
    for i in range(RACERS):
        _, uuid_file = fake_vm(tmp_path, f"racer{i}")
        argv = join_argv(broker, made["token"], made["ca_sha256"], f"racer{i}", tmp_path / f"b{i}", uuid_file)
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()))
    outcomes = [p.communicate(timeout=CLI_TIMEOUT_S) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes.count(0) == 1, outcomes
    assert all("has been used 1 time(s)" in err for (_, err), code in zip(outcomes, codes, strict=True) if code)
    assert len(broker.js("vmgroup", "vm", "ls", "--name", "web")) == 1


def test_a_revoked_expired_or_mistyped_token_and_a_foreign_ca_are_refused(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    made = make_token(broker, "web", "--uses", "5")
    _, uuid_file = fake_vm(tmp_path, "vm1")
    token_id = made["entry"]["id"]
    wrong_ca = run(join_argv(broker, made["token"], "ab" * 32, "vm1", tmp_path / "b", uuid_file))
    assert wrong_ca.rc == 1 and f"did not present a CA of SHA-256 {'ab' * 32}: not our broker" in wrong_ca.err
    mistyped = run(join_argv(broker, made["token"][:-1] + "x", made["ca_sha256"], "vm1", tmp_path / "b", uuid_file))
    assert mistyped.err.strip() == f"Error: Join refused: token {token_id} is unknown or was revoked"
    garbage = run(join_argv(broker, "not-a-token", made["ca_sha256"], "vm1", tmp_path / "b", uuid_file))
    assert "not a vdvs join token" in garbage.err
    assert broker.ok("vm", "token", "rm", token_id).startswith(f"Removed join token {token_id} of vmgroup web")
    revoked = run(join_argv(broker, made["token"], made["ca_sha256"], "vm1", tmp_path / "b", uuid_file))
    assert revoked.err.strip() == f"Error: Join refused: token {token_id} is unknown or was revoked"
    assert not (tmp_path / "b" / "vm.pem").exists()
    bad_ttl = broker.run("vm", "token", "create", "--vmgroup", "web", "--ttl", "90d")
    assert bad_ttl.rc != 0
    assert bad_ttl.err == "ERROR:Invalid --ttl 90d: give a number and s, m, h or d (e.g. 1h), at most 30d\n"
    unknown = broker.run("vm", "token", "create", "--vmgroup", "nosuch")
    assert unknown.rc != 0 and unknown.err == "ERROR:Vmgroup nosuch does not exist\n"
