"""Delegation on the PostgreSQL store: grants, shares with ceilings, the audit trail and the permissions
view through a broker whose config store is PostgreSQL (the store contract runs both stores too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.delegation.harness import Denv


@pytest.fixture
async def pg_denv(short_tmp: Path, pg_dsn: str) -> AsyncIterator[Denv]:
    env = Denv(short_tmp, store_dsn=pg_dsn)
    init = env.init()
    assert init.rc == 0, init
    env.start()
    try:
        yield env
    finally:
        await env.close()


async def test_a_vmgroup_admin_works_within_its_share_and_everything_is_audited(pg_denv: Denv) -> None:
    env = pg_denv
    assert env.status()["DB_Mode"] == "MultiNode (shared PostgreSQL)"
    env.ok("vmgroup", "create", "--name", "own", "--default-datastore", "local1", "--label", "team=own")
    env.ok("vmgroup", "create", "--name", "other", "--default-datastore", "local1", "--label", "team=other")
    alice = env.admin("alice")
    env.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-admin", "--selector", "team=own")
    env.ok(
        "datastore",
        "share",
        "--datastore",
        "local2",
        "--selector",
        "team=own",
        "--max-volume-size",
        "1GB",
        "--max-total",
        "4GB",
    )
    assert alice.refused(
        "vmgroup",
        "access",
        "add",
        "--name",
        "own",
        "--datastore",
        "local2",
        "--allow-create",
        "--volume-maxsize",
        "1GB",
        "--volume-totalsize",
        "8GB",
    ) == ("Total size 8.00GB is over the max-total ceiling of 4.00GB on datastore local2 shared into vmgroup own")
    assert (
        alice.ok(
            "vmgroup",
            "access",
            "add",
            "--name",
            "own",
            "--datastore",
            "local2",
            "--allow-create",
            "--volume-maxsize",
            "1GB",
            "--volume-totalsize",
            "4GB",
        )
        == "vmgroup access add succeeded"
    )
    vm = await env.vm("vm1")
    assert alice.ok("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm1") == "vmgroup vm add succeeded"
    await vm.client.create("v1@local2", {"size": "100mb"}, ["ext4"])
    rows = alice.js("show", "permissions", "--vm", "vm1")
    assert [(r["datastore"], r["verbs"], r["max_volume_size"], r["total"], r["used"], r["source"]) for r in rows] == [
        ("local1", ["create", "remove", "mount"], "Unset", "Unset", "0.00MB", "explicit row + access row"),
        ("local2", ["create", "remove", "mount"], "1.00GB", "4.00GB", "100.00MB", "explicit row + access row"),
    ]
    assert [(r["action"], r["outcome"]) for r in alice.js("audit", "ls")] == [
        ("vmgroup.create", "success"),  # a selector grant is filed under no one vmgroup
        ("access.add", "refused"),
        ("access.add", "success"),
        ("vmgroup.vm.add", "success"),
        ("volume.create", "success"),
    ]
    assert [d["name"] for d in alice.js("datastore", "ls")] == ["local2"]
    env.ok("admin", "revoke", "alice")
    assert alice.refused("vmgroup", "ls").endswith("of admin alice has been revoked")
