"""`vdvs vmgroup create|ls|update|rm` run as commands against a running broker: vDVS texts, tables,
--json, every refusal with its exact text and exit status 2, and nothing changed by a refusal."""

from __future__ import annotations

import json
import uuid

from tests.tenancy.harness import DEFAULT_ID, VM_UUIDS, VMGROUP_COLUMNS, Tenv

CREATED = "vmgroup '{}' is created. Do not forget to run 'vmgroup vm add' to add vm to vmgroup."
NAME_RULE = "[a-zA-Z0-9_][a-zA-Z0-9_.-]*"
ALL_DS_DEFAULT = (
    "Cannot use _ALL_DS as default datastore. Please use specific datastore name or _VM_DS special datastore"
)


def rows_by_name(env: Tenv) -> dict[str, list[str]]:
    headers, rows = env.table("vmgroup", "ls")
    assert headers == VMGROUP_COLUMNS
    return {row[1]: row for row in rows}


async def test_after_init_only_default_exists_with_vm_ds_default_and_all_ds_access(tenv: Tenv) -> None:
    assert rows_by_name(tenv) == {
        "_DEFAULT": [DEFAULT_ID, "_DEFAULT", "This is a default vmgroup", "_VM_DS", "", "", "Unset", "off"],
    }
    assert tenv.js("vmgroup", "ls") == [
        {
            "id": DEFAULT_ID,
            "name": "_DEFAULT",
            "description": "This is a default vmgroup",
            "default_datastore": "_VM_DS",
            "vms": [],
            "labels": {},
            "max_volumes": "Unset",
            "cascade_delete": "off",
        }
    ]
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "_DEFAULT")
    assert rows == [
        ["_ALL_DS", "True", "Unset", "Unset", "Unset", "Unset"],
        ["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"],
    ]


async def test_create_prints_vdvs_text_and_ls_shows_the_vmgroup(tenv: Tenv) -> None:
    await tenv.vm("vm1")
    await tenv.vm("vm2")
    out = tenv.ok(
        "vmgroup",
        "create",
        "--name",
        "web",
        "--default-datastore",
        "local1",
        "--description",
        "web tier",
        "--vm-list",
        "vm1,vm2",
    )
    assert out == CREATED.format("web")
    row = rows_by_name(tenv)["web"]
    assert uuid.UUID(row[0]).version == 4
    assert row[1:] == ["web", "web tier", "local1", "vm1,vm2", "", "Unset", "off"]
    # the new default datastore gets a full-access row
    _, access = tenv.table("vmgroup", "access", "ls", "--name", "web")
    assert access == [["local1", "True", "Unset", "Unset", "Unset", "Unset"]]
    _, vms = tenv.table("vmgroup", "vm", "ls", "--name", "web")
    assert vms == [[VM_UUIDS["vm1"], "vm1"], [VM_UUIDS["vm2"], "vm2"]]


async def test_create_json_reply_describes_the_new_vmgroup(tenv: Tenv) -> None:
    reply = tenv.js("vmgroup", "create", "--name", "db", "--default-datastore", "_VM_DS")
    assert reply == {
        "id": reply["id"],
        "name": "db",
        "description": "",
        "default_datastore": "_VM_DS",
        "vms": [],
        "labels": {},
        "max_volumes": "Unset",
        "cascade_delete": "off",
    }
    assert tenv.group_id("db") == reply["id"]
    assert tenv.js("vmgroup", "access", "ls", "--name", "db") == [
        {
            "datastore": "_VM_DS",
            "allow_create": True,
            "max_volume_size": "Unset",
            "usage_quota": "Unset",
            "max_volume_size_mb": "0",
            "usage_quota_mb": "0",
            "volume_count": "Unset",
            "alert_at": "Unset",
            "storage_policy": "",
            "allowed_policies": [],
        }
    ]


async def test_default_datastore_is_matched_ignoring_case_and_shown_by_its_name(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g", "--default-datastore", "LOCAL2")
    assert rows_by_name(tenv)["g"][3] == "local2"


async def test_name_and_description_limits_and_regex(tenv: Tenv) -> None:
    for name in ("a" * 64, "_x", "9", "a.b-c_D"):
        assert tenv.ok("vmgroup", "create", "--name", name, "--default-datastore", "_VM_DS") == CREATED.format(name)
    tenv.ok("vmgroup", "create", "--name", "described", "--default-datastore", "_VM_DS", "--description", "d" * 256)
    assert rows_by_name(tenv)["described"][2] == "d" * 256
    before = tenv.state()
    for name in ("-x", ".x", "a b", "a/b", "é", "a!"):
        text = tenv.refused("vmgroup", "create", "--name", name, "--default-datastore", "_VM_DS")
        assert text == f"Vmgroup name {name} is invalid, only {NAME_RULE} is allowed"
    assert tenv.refused("vmgroup", "create", "--name", "a" * 65, "--default-datastore", "_VM_DS") == (
        f"Vmgroup name exceeds 64 characters: {'a' * 65}"
    )
    assert tenv.refused("vmgroup", "create", "--name", "", "--default-datastore", "_VM_DS") == "Vmgroup name is empty"
    text = tenv.refused(
        "vmgroup", "create", "--name", "d2", "--default-datastore", "_VM_DS", "--description", "d" * 257
    )
    assert text == f"Vmgroup description exceeds 256 characters: {'d' * 257}"
    assert tenv.state() == before


async def test_create_refusals_have_vdvs_texts_and_change_nothing(tenv: Tenv) -> None:
    await tenv.vm("vm1")
    await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    before = tenv.state()
    cases = [
        (["--name", "g1", "--default-datastore", "local1"], "Vmgroup g1 already exists"),
        (["--name", "g2", "--default-datastore", "_ALL_DS"], ALL_DS_DEFAULT),
        (["--name", "g2", "--default-datastore", "nope"], "Datastore nope does not exist"),
        (
            ["--name", "g2", "--default-datastore", "local1", "--vm-list", "vm2,vm2"],
            "VMs ['vm2', 'vm2'] contain duplicates, they should be unique",
        ),
        (
            ["--name", "g2", "--default-datastore", "local1", "--vm-list", "vm2,ghost,phantom"],
            "Cannot find vm ghost,phantom",
        ),
        (
            ["--name", "g2", "--default-datastore", "local1", "--vm-list", "vm2,vm1"],
            "VM 'vm1' has already been associated with tenant 'g1', can't add it",
        ),
        (["--name", "_DEFAULT", "--default-datastore", "_VM_DS"], "Vmgroup _DEFAULT already exists"),
    ]
    for args, message in cases:
        assert tenv.refused("vmgroup", "create", *args) == message, args
        assert tenv.state() == before, args
    # --json: the same refusal as a JSON object on stdout, exit 2
    res = tenv.run("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--json")
    assert res.rc == 2
    assert json.loads(res.out) == {
        "error": {"code": 3, "name": "TENANT_ALREADY_EXIST", "message": "Vmgroup g1 already exists"}
    }


async def test_update_prints_modify_succeeded_and_applies_every_change(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--description", "old")
    out = tenv.ok("vmgroup", "update", "--name", "g1", "--description", "new", "--default-datastore", "local2")
    assert out == "vmgroup modify succeeded"
    assert rows_by_name(tenv)["g1"][2:4] == ["new", "local2"]
    reply = tenv.js("vmgroup", "update", "--name", "g1", "--new-name", "g1b")
    assert (reply["name"], reply["description"], reply["default_datastore"]) == ("g1b", "new", "local2")
    assert "g1" not in rows_by_name(tenv)
    # a new default datastore got a full row; the old default's row is kept
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "g1b")
    assert rows == [
        ["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"],
        ["local2", "True", "Unset", "Unset", "Unset", "Unset"],
    ]


async def test_new_default_datastore_keeps_an_existing_row_as_it_is(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local1", "--volume-maxsize", "500MB")
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local1")
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "g1")
    assert rows == [
        ["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"],
        ["local1", "False", "500.00MB", "Unset", "Unset", "Unset"],
    ]


async def test_default_datastore_can_never_be_all_ds(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    before = tenv.state()
    for group in ("g1", "_DEFAULT"):
        assert tenv.refused("vmgroup", "update", "--name", group, "--default-datastore", "_ALL_DS") == ALL_DS_DEFAULT
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--default-datastore", "nope") == (
        "Datastore nope does not exist"
    )
    assert tenv.state() == before
    # back and forth between a real datastore and _VM_DS is fine
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local1")
    assert rows_by_name(tenv)["g1"][3] == "local1"


async def test_rename_validates_new_name_vdvs_checked_old_name_as_written(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "_VM_DS")
    before = tenv.state()
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--new-name", "bad name!") == (
        f"Vmgroup name bad name! is invalid, only {NAME_RULE} is allowed"
    )
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--new-name", "n" * 65) == (
        f"Vmgroup name exceeds 64 characters: {'n' * 65}"
    )
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--new-name", "") == "Vmgroup name is empty"
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--new-name", "g2") == "Vmgroup g2 already exists"
    assert tenv.refused("vmgroup", "update", "--name", "nope", "--new-name", "x") == "Vmgroup nope does not exist"
    assert tenv.refused("vmgroup", "update", "--name", "g1", "--description", "d" * 257) == (
        f"Vmgroup description exceeds 256 characters: {'d' * 257}"
    )
    assert tenv.state() == before


async def test_update_is_atomic_vdvs_applied_default_datastore_before_failing_rename_as_written(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--description", "d")
    before = tenv.state()
    text = tenv.refused(
        "vmgroup",
        "update",
        "--name",
        "g1",
        "--default-datastore",
        "local2",
        "--new-name",
        "x y",
        "--description",
        "changed",
    )
    assert text == f"Vmgroup name x y is invalid, only {NAME_RULE} is allowed"
    assert tenv.state() == before  # no default datastore change, no new local2 row, same description


async def test_default_cannot_be_renamed_but_its_description_and_default_can_change(tenv: Tenv) -> None:
    before = tenv.state()
    assert tenv.refused("vmgroup", "update", "--name", "_DEFAULT", "--new-name", "other") == (
        "Vmgroup name _DEFAULT is invalid, only rename of vmgroups other than _DEFAULT is allowed"
    )
    assert tenv.state() == before
    tenv.ok("vmgroup", "update", "--name", "_DEFAULT", "--description", "all the others")
    tenv.ok("vmgroup", "update", "--name", "_DEFAULT", "--default-datastore", "local2")
    assert rows_by_name(tenv)["_DEFAULT"] == [
        DEFAULT_ID, "_DEFAULT", "all the others", "local2", "", "", "Unset", "off",
    ]  # fmt: skip


async def test_no_vmgroup_can_be_renamed_to_default(tenv: Tenv) -> None:
    """`_DEFAULT` is the fixed-uuid vmgroup; a renamed impostor would not be the default for un-grouped VMs,
    would accept `vm add`, and would block re-creating the real one ("Vmgroup _DEFAULT already exists")."""
    tenv.ok("vmgroup", "rm", "--name", "_DEFAULT")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    before = tenv.state()
    res = tenv.run("vmgroup", "update", "--name", "g1", "--new-name", "_DEFAULT")
    assert res.rc == 2 and res.err.startswith("ERROR:") and "_DEFAULT" in res.err, res
    assert tenv.state() == before
    assert tenv.ok("vmgroup", "create", "--name", "_DEFAULT", "--default-datastore", "_VM_DS") == (
        "vmgroup '_DEFAULT' is created."
    )
    assert tenv.group_id("_DEFAULT") == DEFAULT_ID


async def test_rm_prints_vdvs_texts(tenv: Tenv) -> None:
    for name in ("a", "b", "c"):
        tenv.ok("vmgroup", "create", "--name", name, "--default-datastore", "_VM_DS")
    assert tenv.ok("vmgroup", "rm", "--name", "a") == "vmgroup rm succeeded"
    assert tenv.ok("vmgroup", "rm", "--name", "b", "--remove-volumes") == (
        "All Volumes will be removed. vmgroup rm succeeded"
    )
    assert tenv.js("vmgroup", "rm", "--name", "c") == {"removed_volumes": []}
    assert list(rows_by_name(tenv)) == ["_DEFAULT"]
    assert tenv.refused("vmgroup", "rm", "--name", "a") == "Vmgroup a does not exist"


async def test_rm_refused_while_vmgroup_has_vms_unless_force(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local2", "--vm-list", "vm1")
    before = tenv.state()
    assert tenv.refused("vmgroup", "rm", "--name", "g1") == (
        "Cannot delete non-empty vmgroup g1. Remove VMs from the vmgroup before deleting it."
    )
    assert tenv.state() == before
    assert tenv.ok("vmgroup", "rm", "--name", "g1", "--force") == "vmgroup rm succeeded"
    assert list(rows_by_name(tenv)) == ["_DEFAULT"]
    # the VM is in no vmgroup again, so it acts as _DEFAULT (short names on its own datastore)
    created = await vm1.client.create("v", {}, [])
    assert created.full_name == "v@local1"
    assert tenv.js("volume", "ls", "-c", "volume,vmgroup") == [{"volume": "v", "vmgroup": "_DEFAULT"}]
