"""`vdvs vmgroup access add|set|rm|ls`: rows, vDVS size formats, allow-create values, the default-datastore
row rule, max <= total, and sizes that are checked (vDVS ignored bad ones) and resettable to Unset."""

from __future__ import annotations

from tests.tenancy.harness import ACCESS_COLUMNS, Tenv

INVALID_SIZE = (
    "Invalid format for size. \nValid sizes must be of form X[mMgGtT]b where X is an integer. Default = 100mb"
)
DEFAULT_ROW = "Removing of access privilege to 'default_datastore' is not supported"


def access_rows(env: Tenv, group: str) -> list[list[str]]:
    headers, rows = env.table("vmgroup", "access", "ls", "--name", group)
    assert headers == ACCESS_COLUMNS
    return rows


async def test_tenant_access_lifecycle_as_vdvs_test_tenant_access(tenv: Tenv) -> None:
    """TestTenant.test_tenant_access, step by step."""
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    assert access_rows(tenv, "g1") == [["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"]]
    assert tenv.refused("vmgroup", "access", "rm", "--name", "g1", "--datastore", "_VM_DS") == DEFAULT_ROW
    out = tenv.ok(
        "vmgroup",
        "access",
        "add",
        "--name",
        "g1",
        "--datastore",
        "local1",
        "--volume-maxsize",
        "600MB",
        "--volume-totalsize",
        "1GB",
    )
    assert out == "vmgroup access add succeeded"
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local1")
    assert tenv.ok("vmgroup", "access", "rm", "--name", "g1", "--datastore", "_VM_DS") == "vmgroup access rm succeeded"
    assert access_rows(tenv, "g1") == [["local1", "False", "600.00MB", "1.00GB", "Unset", "Unset"]]
    for value, shown in [
        ("False", "False"),
        ("FALSE", "False"),
        ("false", "False"),
        ("True", "True"),
        ("TRUE", "True"),
        ("true", "True"),
    ]:
        out = tenv.ok(
            "vmgroup",
            "access",
            "set",
            "--name",
            "g1",
            "--datastore",
            "local1",
            "--allow-create",
            value,
            "--volume-maxsize",
            "500MB",
            "--volume-totalsize",
            "1GB",
        )
        assert out == "vmgroup access set succeeded"
        assert access_rows(tenv, "g1") == [["local1", shown, "500.00MB", "1.00GB", "Unset", "Unset"]]
    before = tenv.state()
    for value in ("INVALID", ""):
        text = tenv.refused(
            "vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--allow-create", value
        )
        assert text == f"Invalid value {value} for allow-create option"
    assert tenv.state() == before
    # a second datastore: the default switch shows in vmgroup ls; the non-default row can go, the default cannot
    tenv.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2", "--allow-create")
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local2")
    assert next(g for g in tenv.js("vmgroup", "ls") if g["name"] == "g1")["default_datastore"] == "local2"
    assert tenv.refused("vmgroup", "access", "rm", "--name", "g1", "--datastore", "local2") == DEFAULT_ROW
    assert tenv.js("vmgroup", "access", "rm", "--name", "g1", "--datastore", "local1") == [
        {
            "datastore": "local2",
            "allow_create": True,
            "max_volume_size": "Unset",
            "usage_quota": "Unset",
            "max_volume_size_mb": "0",
            "usage_quota_mb": "0",
            "volume_count": "Unset",
            "alert_at": "Unset",
            "storage_policy": "",  # no default policy (tests/tenancy/test_cli_policies.py)
            "allowed_policies": [],  # any
        }
    ]


async def test_sizes_are_shown_the_vdvs_way_in_any_input_case(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    cases = [
        ("500MB", "1000MB", "500.00MB", "1000.00MB"),
        ("500mb", "1024mb", "500.00MB", "1.00GB"),
        ("1gb", "20GB", "1.00GB", "20.00GB"),
        ("1Gb", "1tb", "1.00GB", "1.00TB"),
        ("Unset", "0", "Unset", "Unset"),
    ]
    for maxsize, total, shown_max, shown_total in cases:
        tenv.ok(
            "vmgroup",
            "access",
            "set",
            "--name",
            "g1",
            "--datastore",
            "_VM_DS",
            "--volume-maxsize",
            maxsize,
            "--volume-totalsize",
            total,
        )
        assert access_rows(tenv, "g1") == [["_VM_DS", "True", shown_max, shown_total, "Unset", "Unset"]], (
            maxsize,
            total,
        )
    reply = tenv.js("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--volume-totalsize", "2GB")
    assert (reply["usage_quota"], reply["usage_quota_mb"], reply["max_volume_size"]) == ("2.00GB", "2048", "Unset")


async def test_bad_sizes_are_errors_vdvs_silently_ignored_them_as_written(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--volume-maxsize", "100MB")
    before = tenv.state()
    for bad in ("1.5GB", "10KB", "abc", "-5MB", "5 MB", "1PBX"):
        for flag in ("--volume-maxsize", "--volume-totalsize"):
            assert tenv.refused("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", flag, bad) == (
                INVALID_SIZE
            ), (flag, bad)
            assert tenv.refused("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2", flag, bad) == (
                INVALID_SIZE
            ), (flag, bad)
    assert (
        tenv.refused("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--volume-maxsize", "0MB")
        == "Invalid volume size specified."
    )
    assert tenv.state() == before


async def test_access_set_can_reset_a_limit_to_unset_vdvs_could_not_as_written(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "g1",
        "--datastore",
        "_VM_DS",
        "--volume-maxsize",
        "500MB",
        "--volume-totalsize",
        "1GB",
    )
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--volume-maxsize", "Unset")
    assert access_rows(tenv, "g1") == [["_VM_DS", "True", "Unset", "1.00GB", "Unset", "Unset"]]
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--volume-totalsize", "unset")
    assert access_rows(tenv, "g1") == [["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"]]


async def test_volume_maxsize_may_not_exceed_volume_totalsize(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    before = tenv.state()
    assert tenv.refused(
        "vmgroup",
        "access",
        "add",
        "--name",
        "g1",
        "--datastore",
        "local1",
        "--volume-maxsize",
        "2GB",
        "--volume-totalsize",
        "1GB",
    ) == ("Volume max size 2048MB exceeds the total size 1024MB")
    assert tenv.state() == before
    tenv.ok(
        "vmgroup",
        "access",
        "add",
        "--name",
        "g1",
        "--datastore",
        "local1",
        "--volume-maxsize",
        "1GB",
        "--volume-totalsize",
        "1GB",
    )
    before = tenv.state()
    # set checks the merged row: a new max against the kept total, a new total against the kept max
    assert (
        tenv.refused("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-maxsize", "1025MB")
        == "Volume max size 1025MB exceeds the total size 1024MB"
    )
    assert (
        tenv.refused("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "500MB")
        == "Volume max size 1024MB exceeds the total size 500MB"
    )
    assert tenv.state() == before


async def test_access_refusals_have_vdvs_texts_and_change_nothing(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    before = tenv.state()
    cases = [
        (["add", "--name", "nope", "--datastore", "local2"], "Vmgroup nope does not exist"),
        (["add", "--name", "g1", "--datastore", "nope"], "Datastore nope does not exist"),
        (["add", "--name", "g1", "--datastore", "local1"], "Access privilege for (g1, local1) already exists"),
        (["set", "--name", "nope", "--datastore", "local1", "--allow-create", "true"], "Vmgroup nope does not exist"),
        (["set", "--name", "g1", "--datastore", "nope", "--allow-create", "true"], "Datastore nope does not exist"),
        (
            ["set", "--name", "g1", "--datastore", "local2", "--allow-create", "true"],
            "No access privilege exists for (g1, local2)",
        ),
        (["rm", "--name", "nope", "--datastore", "local1"], "Vmgroup nope does not exist"),
        (["rm", "--name", "g1", "--datastore", "nope"], "Datastore nope does not exist"),
        (["rm", "--name", "g1", "--datastore", "_ALL_DS"], "No access privilege exists for (g1, _ALL_DS)"),
        (["rm", "--name", "g1", "--datastore", "local1"], DEFAULT_ROW),
        (["rm", "--name", "_DEFAULT", "--datastore", "_VM_DS"], DEFAULT_ROW),
        (["ls", "--name", "nope"], "Vmgroup nope does not exist"),
    ]
    for args, message in cases:
        assert tenv.refused("vmgroup", "access", *args) == message, args
    assert tenv.state() == before


async def test_add_accepts_special_datastores_and_defaults_to_mount_only(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    tenv.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "_ALL_DS")
    tenv.ok(
        "vmgroup",
        "access",
        "add",
        "--name",
        "g1",
        "--datastore",
        "_VM_DS",
        "--allow-create",
        "--volume-totalsize",
        "2GB",
    )
    reply = tenv.js("vmgroup", "access", "add", "--name", "g1", "--datastore", "LOCAL2", "--volume-maxsize", "100mb")
    assert reply["datastore"] == "local2"
    assert access_rows(tenv, "g1") == [
        ["_ALL_DS", "False", "Unset", "Unset", "Unset", "Unset"],
        ["_VM_DS", "True", "Unset", "2.00GB", "Unset", "Unset"],
        ["local1", "True", "Unset", "Unset", "Unset", "Unset"],
        ["local2", "False", "100.00MB", "Unset", "Unset", "Unset"],
    ]
    # set changes only what it is given
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local2", "--volume-totalsize", "1GB")
    assert access_rows(tenv, "g1")[3] == ["local2", "False", "100.00MB", "1.00GB", "Unset", "Unset"]
    # non-default rows can be removed; the _DEFAULT vmgroup's rows can be changed too
    tenv.ok("vmgroup", "access", "rm", "--name", "g1", "--datastore", "_ALL_DS")
    tenv.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_ALL_DS", "--allow-create", "false")
    assert access_rows(tenv, "_DEFAULT") == [
        ["_ALL_DS", "False", "Unset", "Unset", "Unset", "Unset"],
        ["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"],
    ]
