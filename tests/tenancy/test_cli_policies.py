"""`vdvs policy create|ls|update|rm` against a real broker (local backend, real VMs over mTLS): vDVS's
texts, the volumes using each policy, refusals while in use, the access row's default policy and
allowed list, what a VM's create gets (recorded and shown: this backend applies no policy to disks),
and the audit records of each verb."""

from __future__ import annotations

from tests.tenancy.harness import VOLUME_COLUMNS, Tenv, parse_table, vm_refused

GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'
SILVER = '(("stripeWidth" i2))'
POLICY_COLUMNS = ["Policy Name", "Policy Content", "Active", "Volumes"]
ACCESS = ["vmgroup", "access"]


def policies(env: Tenv) -> list[list[str]]:
    headers, rows = env.table("policy", "ls")
    assert headers == POLICY_COLUMNS
    return rows


def policy_cell(env: Tenv, volume: str) -> str:
    headers, rows = env.table("volume", "ls")
    assert headers == VOLUME_COLUMNS
    (row,) = [r for r in rows if r[0] == volume]
    return row[VOLUME_COLUMNS.index("Policy")]


async def test_policy_verbs_follow_vdvs_texts_and_refuse_bad_input(tenv: Tenv) -> None:
    assert policies(tenv) == []
    assert tenv.ok("policy", "create", "--name", "gold", "--content", GOLD) == "Successfully created policy: gold"
    assert tenv.refused("policy", "create", "--name", "gold", "--content", SILVER) == (
        "Error: Policy already exists: gold"
    )
    assert tenv.refused("policy", "create", "--name", "bad", "--content", '(("stripeWidth" i20))') == (
        "Error: Invalid policy string: stripeWidth must be from 1 to 12, not 20"
    )
    assert tenv.refused("policy", "create", "--name", "a b", "--content", SILVER) == (
        "Policy name 'a b' is invalid, only [a-zA-Z0-9_][a-zA-Z0-9_.-]* (at most 64) is allowed"
    )
    assert policies(tenv) == [["gold", GOLD, "Unused", ""]]
    assert tenv.ok("policy", "update", "--name", "gold", "--content", SILVER) == "Successfully updated policy gold"
    assert tenv.refused("policy", "update", "--name", "gold", "--content", "((") == (
        "Error: Invalid policy string: the parentheses do not match (2 opened, 0 closed)"
    )
    assert tenv.refused("policy", "update", "--name", "nope", "--content", SILVER) == "Policy nope does not exist"
    assert policies(tenv) == [["gold", SILVER, "Unused", ""]]
    assert tenv.refused("policy", "rm", "--name", "nope") == "Policy nope does not exist"
    assert tenv.ok("policy", "rm", "--name", "gold") == "Successfully removed policy: gold"
    assert policies(tenv) == []
    audit = [(r["action"], r["target"], r["outcome"]) for r in tenv.js("audit", "ls", "--action", "policy.*")]
    assert audit == [
        ("policy.create", "name=gold", "success"),
        ("policy.create", "name=gold", "refused"),
        ("policy.create", "name=bad", "refused"),
        ("policy.create", "name=a b", "refused"),
        ("policy.update", "name=gold", "success"),
        ("policy.update", "name=gold", "refused"),
        ("policy.update", "name=nope", "refused"),
        ("policy.rm", "name=nope", "refused"),
        ("policy.rm", "name=gold", "success"),
    ]


async def test_a_vms_create_records_the_policy_and_it_is_shown_listed_and_kept_while_used(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("policy", "create", "--name", "gold", "--content", GOLD)
    tenv.ok("policy", "create", "--name", "silver", "--content", SILVER)
    err = await vm_refused(vm1.client.create("v0", {"vsan-policy-name": "platinum"}, []))
    assert (err.code, err.message) == (
        804,
        "Policy platinum does not exist. Available policies are: ['gold', 'silver']",
    )
    await vm1.client.create("v1", {"vsan-policy-name": "gold"}, [])
    await vm1.client.create("v2", {"vsan-policy-name": "gold", "size": "20mb"}, [])
    await vm1.client.create("plain", {}, [])
    await vm1.client.create("copy", {"clone-from": "v1"}, [])  # a clone names its own policy (here none)
    status = (await vm1.client.get("v1")).status
    assert status["vsan-policy-name"] == "gold"  # docker volume inspect shows it
    assert "vsan-policy-name" not in (await vm1.client.get("copy")).status
    assert [policy_cell(tenv, v) for v in ("v1", "v2", "plain", "copy")] == ["gold", "gold", "N/A", "N/A"]
    assert policies(tenv) == [
        ["gold", GOLD, "In use by 2 volumes", "v1@local1 (_DEFAULT), v2@local1 (_DEFAULT)"],
        ["silver", SILVER, "Unused", ""],
    ]
    assert tenv.refused("policy", "rm", "--name", "gold") == (
        "Cannot remove. Policy is in use by v1@local1 (_DEFAULT), v2@local1 (_DEFAULT)"
    )
    # an update is recorded for its volumes: this backend puts no policy on disks, and says so
    out = tenv.ok("policy", "update", "--name", "gold", "--content", SILVER)
    assert out == (
        "Successfully updated policy gold\n"
        "Recorded for 2 volumes (their backend applies no policy to disks): v1@local1, v2@local1"
    )
    await vm1.client.remove("v1")
    await vm1.client.remove("v2")
    assert tenv.ok("policy", "rm", "--name", "gold") == "Successfully removed policy: gold"


async def test_an_access_rows_default_policy_applies_and_its_list_restricts(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    for name, content in (("gold", GOLD), ("silver", SILVER), ("bronze", '(("stripeWidth" i1))')):
        tenv.ok("policy", "create", "--name", name, "--content", content)
    row = ["--name", "web", "--datastore", "local1"]
    assert tenv.refused(*ACCESS, "set", *row, "--storage-policy", "platinum") == "Policy platinum does not exist"
    assert tenv.refused(*ACCESS, "set", *row, "--storage-policy", "gold", "--allowed-policies", "silver") == (
        "Default policy gold is not among the allowed policies silver"
    )
    tenv.ok(*ACCESS, "set", *row, "--storage-policy", "gold", "--allowed-policies", "gold,silver")
    headers, rows = tenv.table(*ACCESS, "ls", "--name", "web")
    assert headers[-2:] == ["Storage_policy", "Allowed_policies"]
    assert [r[0] for r in rows] == ["local1"] and rows[0][-2:] == ["gold", "gold,silver"]
    shown = [r for r in tenv.js("show", "permissions", "--vmgroup", "web") if r["subject"] == "vm1"]
    assert [(r["datastore"], r["storage_policy"]) for r in shown] == [("local1", "gold")]
    headers, rows = parse_table(tenv.ok("show", "permissions", "--vm", "vm1"))
    assert headers[-2:] == ["Storage_policy", "Allowed_policies"] and rows[0][-2:] == ["gold", "gold,silver"]

    await vm1.client.create("d", {}, [])  # names none: the row's default
    await vm1.client.create("s", {"vsan-policy-name": "silver"}, [])
    err = await vm_refused(vm1.client.create("b", {"vsan-policy-name": "bronze"}, []))
    assert (err.code, err.message) == (
        805,
        "Policy bronze is not allowed for vmgroup web on datastore local1. Allowed policies are: gold, silver",
    )
    assert (await vm1.client.get("d")).status["vsan-policy-name"] == "gold"
    assert [policy_cell(tenv, v) for v in ("d", "s")] == ["gold", "silver"]
    assert "b" not in [r[0] for r in tenv.table("volume", "ls")[1]]
    # a policy named by an access row is in use too
    await vm1.client.remove("d")
    assert tenv.refused("policy", "rm", "--name", "gold") == (
        "Cannot remove. Policy is in use by the access of vmgroup web to local1"
    )
    tenv.ok(*ACCESS, "set", *row, "--storage-policy", "Unset", "--allowed-policies", "Unset")
    await vm1.client.create("d2", {}, [])
    assert "vsan-policy-name" not in (await vm1.client.get("d2")).status
    headers, _ = tenv.table(*ACCESS, "ls", "--name", "web")
    assert headers[-1] == "Alert_at"  # no row names a policy: vDVS's columns only
    assert tenv.ok("policy", "rm", "--name", "gold") == "Successfully removed policy: gold"
