"""`vdvs vmgroup vm add|rm|replace|ls`: one vmgroup per VM, vDVS texts and check order, no change on refusal."""

from __future__ import annotations

from tests.tenancy.harness import VM_COLUMNS, VM_UUIDS, Tenv

NOT_FOR_DEFAULT = "This feature is not supported for vmgroup _DEFAULT."


async def members(env: Tenv, group: str) -> list[str]:
    headers, rows = env.table("vmgroup", "vm", "ls", "--name", group)
    assert headers == VM_COLUMNS
    for uuid, name in rows:
        assert VM_UUIDS[name] == uuid
    return [name for _, name in rows]


async def test_add_rm_replace_print_vdvs_texts_and_ls_shows_members(tenv: Tenv) -> None:
    for name in ("vm1", "vm2", "vm3"):
        await tenv.vm(name)
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    assert await members(tenv, "g1") == []
    assert tenv.ok("vmgroup", "vm", "add", "--name", "g1", "--vm-list", "vm1,vm2") == "vmgroup vm add succeeded"
    assert await members(tenv, "g1") == ["vm1", "vm2"]
    assert tenv.ok("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm1") == "vmgroup vm rm succeeded"
    assert await members(tenv, "g1") == ["vm2"]
    assert tenv.ok("vmgroup", "vm", "replace", "--name", "g1", "--vm-list", "vm3,vm1") == (
        "vmgroup vm replace succeeded"
    )
    assert await members(tenv, "g1") == ["vm1", "vm3"]
    assert tenv.js("vmgroup", "vm", "ls", "--name", "g1") == [
        {"uuid": VM_UUIDS["vm1"], "name": "vm1"},
        {"uuid": VM_UUIDS["vm3"], "name": "vm3"},
    ]
    # vmgroup ls shows the members too
    assert next(g for g in tenv.js("vmgroup", "ls") if g["name"] == "g1")["vms"] == [
        {"uuid": VM_UUIDS["vm1"], "name": "vm1"},
        {"uuid": VM_UUIDS["vm3"], "name": "vm3"},
    ]
    # --json replies carry the resulting member list
    assert tenv.js("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm3") == {
        "vms": [{"uuid": VM_UUIDS["vm1"], "name": "vm1"}]
    }


async def test_default_vmgroup_membership_cannot_be_edited_or_listed(tenv: Tenv) -> None:
    await tenv.vm("vm1")
    before = tenv.state()
    for verb in ("add", "rm", "replace"):
        assert tenv.refused("vmgroup", "vm", verb, "--name", "_DEFAULT", "--vm-list", "vm1") == NOT_FOR_DEFAULT
    assert tenv.refused("vmgroup", "vm", "ls", "--name", "_DEFAULT") == (
        "_DEFAULT tenant contains all VMs which were not added to other tenants"
    )
    assert tenv.state() == before


async def test_membership_refusals_have_vdvs_texts_and_change_nothing(tenv: Tenv) -> None:
    for name in ("vm1", "vm2", "vm3"):
        await tenv.vm(name)
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "_VM_DS", "--vm-list", "vm2")
    before = tenv.state()
    cases = [
        ("add", "nope", "vm3", "Vmgroup nope does not exist"),
        ("add", "g1", "", "VM list cannot be empty"),
        ("add", "g1", "vm3,vm3", "VMs ['vm3', 'vm3'] contain duplicates, they should be unique"),
        ("add", "g1", "vm3,ghost", "Cannot find vm ghost"),
        ("add", "g1", "vm3,vm2", "VM 'vm2' has already been associated with tenant 'g2', can't add it"),
        ("rm", "g1", "", "VM list cannot be empty"),
        ("rm", "g1", "vm1,vm1", "VMs ['vm1', 'vm1'] contain duplicates, they should be unique"),
        ("rm", "g1", "ghost", "Cannot find vm ghost"),
        ("rm", "g1", "vm1,vm2", "VM 'vm2' has not been associated with tenant 'g1', cannot remove it"),
        ("rm", "g1", "vm3", "VM 'vm3' has not been associated with tenant 'g1', cannot remove it"),
        ("replace", "g1", "", "Replace VM cannot be empty"),
        ("replace", "g1", "vm3,vm3", "VMs ['vm3', 'vm3'] contain duplicates, they should be unique"),
        ("replace", "g1", "ghost", "Cannot find vm ghost"),
        ("replace", "g1", "vm3,vm2", "VM 'vm2' has already been associated with tenant 'g2', can't add it"),
        ("ls", "nope", None, "Vmgroup nope does not exist"),
    ]
    for verb, group, vm_list, message in cases:
        extra = [] if vm_list is None else ["--vm-list", vm_list]
        assert tenv.refused("vmgroup", "vm", verb, "--name", group, *extra) == message, (verb, group, vm_list)
    assert tenv.state() == before


async def test_a_vm_belongs_to_at_most_one_vmgroup(tenv: Tenv) -> None:
    await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "_VM_DS")
    in_g1 = "VM 'vm1' has already been associated with tenant 'g1', can't add it"
    assert tenv.refused("vmgroup", "create", "--name", "g3", "--default-datastore", "_VM_DS", "--vm-list", "vm1") == (
        in_g1
    )
    assert tenv.refused("vmgroup", "vm", "add", "--name", "g2", "--vm-list", "vm1") == in_g1
    assert tenv.refused("vmgroup", "vm", "replace", "--name", "g2", "--vm-list", "vm1") == in_g1
    # moving it: out of g1, then into g2
    tenv.ok("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "vm", "add", "--name", "g2", "--vm-list", "vm1")
    groups = {g["name"]: [v["name"] for v in g["vms"]] for g in tenv.js("vmgroup", "ls")}
    assert groups == {"_DEFAULT": [], "g1": [], "g2": ["vm1"]}


async def test_vm_add_member_again_says_cannot_add_it_again_vdvs_said_cant_add_it_as_written(tenv: Tenv) -> None:
    """vDVS compared a uuid with (uuid, name) tuples, so its 'already in this vmgroup' (103) was unreachable."""
    await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    before = tenv.state()
    assert tenv.refused("vmgroup", "vm", "add", "--name", "g1", "--vm-list", "vm1") == (
        "VM 'vm1' has already been associated with tenant 'g1', cannot add it again"
    )
    res = tenv.run("vmgroup", "vm", "add", "--name", "g1", "--vm-list", "vm1", "--json")
    assert res.rc == 2 and '"code": 103' in res.out
    assert tenv.state() == before


async def test_replace_may_keep_current_members_vdvs_refused_them_as_written(tenv: Tenv) -> None:
    """vDVS refused a replace list naming a current member ('already associated with tenant <same>')."""
    await tenv.vm("vm1")
    await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    tenv.ok("vmgroup", "vm", "replace", "--name", "g1", "--vm-list", "vm1,vm2")
    assert await members(tenv, "g1") == ["vm1", "vm2"]
    tenv.ok("vmgroup", "vm", "replace", "--name", "g1", "--vm-list", "vm2")
    assert await members(tenv, "g1") == ["vm2"]


async def test_vm_can_be_named_by_its_bios_uuid(tenv: Tenv) -> None:
    await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "vm", "add", "--name", "g1", "--vm-list", VM_UUIDS["vm1"].upper())
    assert await members(tenv, "g1") == ["vm1"]


async def test_moving_a_vm_moves_it_into_the_other_namespace(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "local2")
    await vm1.client.create("in-g1", {}, [])
    assert await vm1.client.list_names() == ["in-g1@local1"]
    tenv.ok("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm1")
    assert await vm1.client.list_names() == []  # now in _DEFAULT, which has no volumes
    await vm1.client.create("in-default", {}, [])
    tenv.ok("vmgroup", "vm", "add", "--name", "g2", "--vm-list", "vm1")
    await vm1.client.create("in-g2", {}, [])
    assert await vm1.client.list_names() == ["in-g2@local2"]
    tenv.ok("vmgroup", "vm", "replace", "--name", "g2", "--vm-list", "vm1")  # a no-op replace
    listing = {(v["volume"], v["vmgroup"]) for v in tenv.js("volume", "ls", "-c", "volume,vmgroup")}
    assert listing == {("in-g1", "g1"), ("in-default", "_DEFAULT"), ("in-g2", "g2")}
