"""Named vmgroups as their VMs see them (vDVS VmdkTenantTestCase: on_tenant_vm, different_tenants,
for_default_datastore, for_vm_ds), and the mount-only row."""

from __future__ import annotations

from tests.tenancy.harness import Tenv, vm_refused

MAX_EXCEEDED = "Volume size exceeds the max volume size limit"
QUOTA_EXCEEDED = "The total volume size exceeds the usage quota"


async def test_vmdkops_on_tenant_vm(tenv: Tenv, needs_root: None) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "tenant1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    g1 = tenv.group_id("tenant1")
    assert (await vm1.client.create("tenant1_vol1", {}, [])).full_name == "tenant1_vol1@local1"
    assert tenv.disk("local1", g1, "tenant1_vol1").is_file()
    await vm1.client.create("tenant1_vol2@local1", {}, [])  # no local1 row: the _VM_DS row applies
    await vm1.client.remove("tenant1_vol2")
    assert await vm1.client.list_names() == ["tenant1_vol1@local1"]
    await vm1.client.attach("tenant1_vol1")
    await vm1.client.detach("tenant1_vol1")

    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "tenant1",
        "--datastore",
        "_VM_DS",
        "--volume-maxsize",
        "500MB",
        "--volume-totalsize",
        "1GB",
    )
    tenv.ok("vmgroup", "update", "--name", "tenant1", "--default-datastore", "local1")
    _, rows = tenv.table("vmgroup", "access", "ls", "--name", "tenant1")
    assert rows == [
        ["_VM_DS", "True", "500.00MB", "1.00GB", "Unset", "Unset"],
        ["local1", "True", "Unset", "Unset", "Unset", "Unset"],
    ]
    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "tenant1",
        "--datastore",
        "local1",
        "--volume-maxsize",
        "500MB",
        "--volume-totalsize",
        "1GB",
    )
    assert (await vm_refused(vm1.client.create("tenant1_vol3", {"size": "600MB"}, []))).message == MAX_EXCEEDED
    await vm1.client.create("tenant1_vol3", {"size": "500MB"}, [])  # 100 + 500
    err = await vm_refused(vm1.client.create("tenant1_vol4", {"size": "500mb"}, []))  # 600 + 500 > 1024
    assert err.message == QUOTA_EXCEEDED
    tenv.ok("vmgroup", "access", "set", "--name", "tenant1", "--datastore", "local1", "--allow-create", "False")
    assert (await vm_refused(vm1.client.remove("tenant1_vol3"))).message == "No delete privilege"

    tenv.ok("vmgroup", "update", "--name", "tenant1", "--new-name", "new_tenant1")
    assert sorted(await vm1.client.list_names()) == ["tenant1_vol1@local1", "tenant1_vol3@local1"]
    assert tenv.group_id("new_tenant1") == g1
    tenv.ok("vmgroup", "access", "set", "--name", "new_tenant1", "--datastore", "local1", "--allow-create", "True")
    await vm1.client.create("after_rename", {}, [])
    await vm1.client.attach("after_rename")
    await vm1.client.detach("after_rename")
    for name in ("after_rename", "tenant1_vol1", "tenant1_vol3"):
        await vm1.client.remove(name)
    assert tenv.rows() == []


async def test_vmdkops_on_different_tenants_each_see_only_their_own(tenv: Tenv) -> None:
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vm2")
    for group, vm, maxsize, total in (("tenant1", "vm1", "500MB", "2GB"), ("tenant2", "vm2", "1GB", "3GB")):
        tenv.ok("vmgroup", "create", "--name", group, "--default-datastore", "_VM_DS", "--vm-list", vm)
        tenv.ok(
            "vmgroup",
            "access",
            "set",
            "--name",
            group,
            "--datastore",
            "_VM_DS",
            "--volume-maxsize",
            maxsize,
            "--volume-totalsize",
            total,
        )
    for vm in (vm1, vm2):
        await vm.client.create("vol1", {"size": "500MB"}, [])
        await vm.client.create("vol2", {"size": "500mb"}, [])
        await vm.client.create("vol3", {}, [])
    expected = ["vol1@local1", "vol2@local1", "vol3@local1"]
    assert sorted(await vm1.client.list_names()) == expected
    assert sorted(await vm2.client.list_names()) == expected
    assert tenv.usage("tenant1") == tenv.usage("tenant2") == 1100
    assert (await vm_refused(vm1.client.create("big", {"size": "1GB"}, []))).message == MAX_EXCEEDED
    await vm2.client.create("big", {"size": "1GB"}, [])  # tenant2's own limit allows it
    listing = [(r["volume"], r["vmgroup"]) for r in tenv.js("volume", "ls", "-c", "volume,vmgroup")]
    assert sorted(listing) == sorted(
        [(v, g) for g in ("tenant1", "tenant2") for v in ("vol1", "vol2", "vol3")] + [("big", "tenant2")]
    )


async def test_vmdkops_for_default_datastore(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    await vm1.client.create("vol1", {}, [])
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--allow-create", "False")
    assert (await vm_refused(vm1.client.create("vol2", {}, []))).message == "No create privilege"
    assert tenv.refused("vmgroup", "access", "rm", "--name", "g1", "--datastore", "_VM_DS") == (
        "Removing of access privilege to 'default_datastore' is not supported"
    )
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local1")  # adds a full local1 row
    assert (await vm1.client.create("vol2", {}, [])).full_name == "vol2@local1"
    tenv.ok("vmgroup", "update", "--name", "g1", "--default-datastore", "local2")
    assert (await vm1.client.create("vol3", {}, [])).full_name == "vol3@local2"
    assert sorted(await vm1.client.list_names()) == ["vol1@local1", "vol2@local1", "vol3@local2"]


async def test_vmdkops_for_vm_ds_each_vm_gets_its_own_datastore(tenv: Tenv) -> None:
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vmds2")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1,vmds2")
    assert (await vm1.client.create("a", {}, [])).full_name == "a@local1"
    assert (await vm2.client.create("b", {}, [])).full_name == "b@local2"
    for vm in (vm1, vm2):
        assert sorted(await vm.client.list_names()) == ["a@local1", "b@local2"]
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "_VM_DS", "--allow-create", "false")
    assert (await vm_refused(vm2.client.create("c", {}, []))).message == "No create privilege"
    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "g1",
        "--datastore",
        "_VM_DS",
        "--allow-create",
        "true",
        "--volume-maxsize",
        "500MB",
    )
    assert (await vm_refused(vm2.client.create("c", {"size": "600MB"}, []))).message == MAX_EXCEEDED
    await vm2.client.create("c", {"size": "500MB"}, [])
    await vm2.client.create("d@local2", {}, [])  # its own datastore, no explicit row: _VM_DS applies
    # local2 is not vm1's datastore, and g1 has no local2 or _ALL_DS row
    assert (await vm_refused(vm1.client.create("e@local2", {}, []))).message == "No access privilege exists"


async def test_mount_only_row_allows_attach_and_get_but_not_create_or_delete(tenv: Tenv, needs_root: None) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    await vm1.client.create("shared", {}, [])
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--allow-create", "false")
    assert (await vm_refused(vm1.client.create("more", {}, []))).message == "No create privilege"
    assert (await vm_refused(vm1.client.remove("shared"))).message == "No delete privilege"
    assert (await vm1.client.get("shared")).full_name == "shared@local1"
    await vm1.client.attach("shared")
    await vm1.client.detach("shared")
    # a mount-only row added by `access add` (no --allow-create) behaves the same
    tenv.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2")
    assert (await vm_refused(vm1.client.create("x@local2", {}, []))).message == "No create privilege"
    assert tenv.vmdks() == [f"local1:{tenv.group_id('g1')}/shared.vmdk"]
