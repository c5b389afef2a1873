"""The `_DEFAULT` vmgroup as VMs see it (vDVS VmdkTenantTestCase.test_vmdkops_on_default_tenant_vm,
VmdkAuthorizeTestCase.test_vmdkop_authorize, and the lock-down step: removing and re-creating `_DEFAULT`)."""

from __future__ import annotations

from tests.tenancy.harness import DEFAULT_ID, Tenv, vm_refused

NO_PRIVILEGE = "No access privilege exists"
DEFAULT_ROW = "Removing of access privilege to 'default_datastore' is not supported"
HAS_VOLUMES = (
    "Internal Error(The vmgroup has volumes in it, these must be removed/migrated before deleting the vmgroup.)"
)


async def test_ungrouped_vm_acts_as_default_and_short_names_land_on_its_own_datastore(
    tenv: Tenv, needs_root: None
) -> None:
    vm1 = await tenv.vm("vm1")
    created = await vm1.client.create("vol1", {}, [])
    assert created.full_name == "vol1@local1"
    assert tenv.disk("local1", DEFAULT_ID, "vol1").is_file()
    assert (await vm1.client.create("vol2@local2", {}, [])).full_name == "vol2@local2"  # via the _ALL_DS row
    assert tenv.disk("local2", DEFAULT_ID, "vol2").is_file()
    attached = await vm1.client.attach("vol1")
    assert attached.device.backing_file == str(tenv.disk("local1", DEFAULT_ID, "vol1"))
    assert [r["attached-to"] for r in tenv.js("volume", "ls", "-c", "volume,attached-to")] == ["vm1", "detached"]
    assert dict((await vm1.client.get("vol1")).status)["attached to VM"] == "vm1"
    await vm1.client.detach("vol1")
    await vm1.client.remove("vol1")
    await vm1.client.remove("vol2@local2")
    assert tenv.vmdks() == [] and tenv.rows() == []


async def test_default_datastore_change_moves_short_names_and_list_shows_both(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("vol1", {}, [])
    tenv.ok("vmgroup", "update", "--name", "_DEFAULT", "--default-datastore", "local2")
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "_DEFAULT")
    assert rows == [
        ["_ALL_DS", "True", "Unset", "Unset", "Unset", "Unset"],
        ["_VM_DS", "True", "Unset", "Unset", "Unset", "Unset"],
        ["local2", "True", "Unset", "Unset", "Unset", "Unset"],
    ]
    assert (await vm1.client.create("vol2", {}, [])).full_name == "vol2@local2"
    assert sorted(await vm1.client.list_names()) == ["vol1@local1", "vol2@local2"]
    before = tenv.state()
    assert tenv.refused("vmgroup", "access", "rm", "--name", "_DEFAULT", "--datastore", "local2") == DEFAULT_ROW
    assert tenv.refused("vmgroup", "update", "--name", "_DEFAULT", "--default-datastore", "_ALL_DS").startswith(
        "Cannot use _ALL_DS as default datastore."
    )
    assert tenv.state() == before
    tenv.ok("vmgroup", "update", "--name", "_DEFAULT", "--default-datastore", "_VM_DS")
    assert (await vm1.client.create("vol3", {}, [])).full_name == "vol3@local1"
    tenv.ok("vmgroup", "access", "rm", "--name", "_DEFAULT", "--datastore", "local2")  # no longer the default


async def test_without_the_all_ds_row_only_the_vms_own_datastore_is_reachable(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("there@local2", {}, [])
    tenv.ok("vmgroup", "access", "rm", "--name", "_DEFAULT", "--datastore", "_ALL_DS")
    assert (await vm1.client.create("short", {}, [])).full_name == "short@local1"
    assert (await vm1.client.create("named@local1", {}, [])).full_name == "named@local1"  # via the _VM_DS row
    for call in (
        vm1.client.create("other@local2", {}, []),
        vm1.client.get("there@local2"),
        vm1.client.attach("there@local2"),
        vm1.client.remove("there@local2"),
    ):
        assert (await vm_refused(call)).message == NO_PRIVILEGE
    assert tenv.refused("vmgroup", "access", "rm", "--name", "_DEFAULT", "--datastore", "_VM_DS") == DEFAULT_ROW
    assert sorted(await vm1.client.list_names()) == ["named@local1", "short@local1", "there@local2"]


async def test_default_rm_refused_while_it_has_volumes_then_vms_belong_nowhere(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("v", {}, [])
    before = tenv.state()
    assert tenv.refused("vmgroup", "rm", "--name", "_DEFAULT") == HAS_VOLUMES
    assert tenv.state() == before
    await vm1.client.remove("v")
    assert tenv.ok("vmgroup", "rm", "--name", "_DEFAULT") == "vmgroup rm succeeded"
    assert tenv.js("vmgroup", "ls") == []
    nowhere = "VM vm1 does not belong to any vmgroup"
    assert (await vm_refused(vm1.client.create("v", {}, []))).message == nowhere
    assert (await vm_refused(vm1.client.get("v"))).message == nowhere
    assert (await vm_refused(vm1.client.attach("v"))).message == nowhere
    assert await vm1.client.list_names() == []  # docker volume ls: empty, not an error (vDVS #990)
    assert tenv.rows() == []


async def test_detach_after_default_removed_succeeds_vdvs_raised_unbound_local_error_as_written(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "rm", "--name", "_DEFAULT")
    await vm1.client.detach("v")  # the force-detach path: nothing held, so nothing to do
    await vm1.client.detach("v@local1")


async def test_recreated_default_takes_no_vm_list_and_reuses_its_fixed_uuid_and_folder(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("before", {}, [])
    await vm1.client.remove("before")
    tenv.ok("vmgroup", "rm", "--name", "_DEFAULT")
    assert (
        tenv.refused("vmgroup", "create", "--name", "_DEFAULT", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
        == "Invalid Argument(['vm1'])"
    )
    assert tenv.js("vmgroup", "ls") == []
    out = tenv.ok("vmgroup", "create", "--name", "_DEFAULT", "--default-datastore", "local2")
    assert out == "vmgroup '_DEFAULT' is created."
    assert [(g["id"], g["name"], g["default_datastore"]) for g in tenv.js("vmgroup", "ls")] == [
        (DEFAULT_ID, "_DEFAULT", "local2")
    ]
    # only the default datastore's row: no _ALL_DS / _VM_DS rows come back
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "_DEFAULT")
    assert rows == [["local2", "True", "Unset", "Unset", "Unset", "Unset"]]
    assert (await vm1.client.create("again", {}, [])).full_name == "again@local2"
    assert tenv.disk("local2", DEFAULT_ID, "again").is_file()
    assert (await vm_refused(vm1.client.create("mine@local1", {}, []))).message == NO_PRIVILEGE


async def test_default_vm_ds_row_limits_as_vdvs_test_vmdkop_authorize(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "_DEFAULT",
        "--datastore",
        "_VM_DS",
        "--allow-create",
        "False",
        "--volume-maxsize",
        "500MB",
        "--volume-totalsize",
        "1000MB",
    )
    assert (await vm_refused(vm1.client.create("v1", {}, []))).message == "No create privilege"
    tenv.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_VM_DS", "--allow-create", "True")
    await vm1.client.create("v1", {"size": "100MB"}, [])
    err = await vm_refused(vm1.client.create("v2", {"size": "600MB"}, []))
    assert (err.code, err.message) == (210, "Volume size exceeds the max volume size limit")
    await vm1.client.create("v2", {"size": "500MB"}, [])
    err = await vm_refused(vm1.client.create("v3", {"size": "500MB"}, []))  # 100 + 500 + 500 > 1000
    assert (err.code, err.message) == (211, "The total volume size exceeds the usage quota")
    assert tenv.usage("_DEFAULT") == 600
    await vm1.client.remove("v1")
    await vm1.client.remove("v2")
    assert tenv.usage("_DEFAULT") == 0


async def test_config_reinit_leaves_old_default_disks_listed_as_orphans_never_lost(tenv: Tenv) -> None:
    """After `config rm` + `config init` the new store has no rows for the old disks. vDVS showed the
    `_DEFAULT` ones to VMs again (same fixed uuid folder); vdvs keeps them, lists them for the admin (N/A)."""
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("old", {}, [])
    tenv.stop()
    tenv.ok("config", "rm", "--local", "--confirm", "--config", str(tenv.config_path))
    assert tenv.init().rc == 0
    tenv.start()
    vm1 = await tenv.vm("vm1")  # serials live in the store: re-enroll
    assert tenv.disk("local1", DEFAULT_ID, "old").is_file()
    assert [r[:3] for r in tenv.table("volume", "ls")[1]] == [["old", "local1", "N/A"]]
    assert await vm1.client.list_names() == []
    err = await vm_refused(vm1.client.create("old", {}, []))
    assert err.message == f"File {tenv.disk('local1', DEFAULT_ID, 'old')} already exists"
    assert tenv.rows() == []
