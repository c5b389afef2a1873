"""`vmgroup rm` with VMs and volumes (--force, --remove-volumes, a failing delete keeps the vmgroup) and
membership changes refused while a VM has a volume attached."""

from __future__ import annotations

import subprocess

from tests.tenancy.harness import Tenv, Vm

HAS_VOLUMES = (
    "Internal Error(The vmgroup has volumes in it, these must be removed/migrated before deleting the vmgroup.)"
)


async def group_with_volumes(env: Tenv) -> tuple[Vm, str]:
    vm1 = await env.vm("vm1")
    env.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    env.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2", "--allow-create")
    await vm1.client.create("a", {"size": "100mb"}, [])
    await vm1.client.create("b@local2", {"size": "200mb"}, [])
    return vm1, env.group_id("g1")


def group_names(env: Tenv) -> list[str]:
    return [g["name"] for g in env.js("vmgroup", "ls")]


async def test_rm_refused_while_the_vmgroup_has_volumes(tenv: Tenv) -> None:
    await group_with_volumes(tenv)
    tenv.ok("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm1")
    before = tenv.state()
    assert tenv.refused("vmgroup", "rm", "--name", "g1") == HAS_VOLUMES
    assert tenv.refused("vmgroup", "rm", "--name", "g1", "--force") == HAS_VOLUMES
    assert tenv.state() == before
    assert len(tenv.vmdks()) == 2


async def test_rm_remove_volumes_deletes_disks_on_every_datastore_and_their_usage(tenv: Tenv) -> None:
    vm1, _ = await group_with_volumes(tenv)
    reply = tenv.js("vmgroup", "rm", "--name", "g1", "--remove-volumes", "--force")
    assert sorted(reply["removed_volumes"]) == ["a@local1", "b@local2"]
    assert group_names(tenv) == ["_DEFAULT"]
    assert tenv.vmdks() == [] and tenv.rows() == []
    assert tenv.js("volume", "ls") == []
    assert await vm1.client.list_names() == []  # the VM is in _DEFAULT now


async def test_rm_remove_volumes_prints_vdvs_text(tenv: Tenv) -> None:
    await group_with_volumes(tenv)
    tenv.ok("vmgroup", "vm", "rm", "--name", "g1", "--vm-list", "vm1")
    assert tenv.ok("vmgroup", "rm", "--name", "g1", "--remove-volumes") == (
        "All Volumes will be removed. vmgroup rm succeeded"
    )
    assert tenv.vmdks() == [] and tenv.rows() == []


async def test_rm_force_refused_for_volumes_keeps_members_vdvs_dropped_them_first_as_written(tenv: Tenv) -> None:
    await group_with_volumes(tenv)
    before = tenv.state()
    assert tenv.refused("vmgroup", "rm", "--name", "g1", "--force") == HAS_VOLUMES
    assert tenv.state() == before  # vm1 is still a member


async def test_rm_remove_volumes_refused_while_a_volume_is_attached_keeps_everything(
    tenv: Tenv, needs_root: None
) -> None:
    vm1, _ = await group_with_volumes(tenv)
    await vm1.client.attach("a")
    before = tenv.state()
    text = tenv.refused("vmgroup", "rm", "--name", "g1", "--remove-volumes", "--force")
    assert text == "Failed to remove volume a, in use by VM = vm1."
    assert tenv.state() == before  # the vmgroup, its member, and both volumes (b too) are kept
    await vm1.client.detach("a")
    tenv.ok("vmgroup", "rm", "--name", "g1", "--remove-volumes", "--force")
    assert tenv.vmdks() == []


async def test_rm_remove_volumes_keeps_the_vmgroup_when_a_disk_delete_fails(tenv: Tenv, needs_root: None) -> None:
    vm1, g1 = await group_with_volumes(tenv)
    busy = tenv.disk("local2", g1, "b")
    argv = ["losetup", "--find", "--show", str(busy)]
    loop = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert loop.returncode == 0, loop.stderr
    try:
        text = tenv.refused("vmgroup", "rm", "--name", "g1", "--remove-volumes", "--force")
        assert text.startswith("Internal Error(Failed to remove volume: ")
        assert f"{busy} is still attached to a loop device" in text
        assert group_names(tenv) == ["_DEFAULT", "g1"]
        assert tenv.js("vmgroup", "vm", "ls", "--name", "g1") == [{"uuid": vm1.uuid, "name": "vm1"}]
        # what could be deleted is gone, with its usage; the busy volume is kept, usable
        assert tenv.vmdks() == [f"local2:{g1}/b.vmdk"]
        assert [(r[2], r[4]) for r in tenv.rows()] == [("b", "ready")]
        assert (tenv.usage("g1", "local1"), tenv.usage("g1", "local2")) == (0, 200)
        assert await vm1.client.list_names() == ["b@local2"]
    finally:
        subprocess.run(["losetup", "-d", loop.stdout.strip()], check=False, timeout=30)
    tenv.ok("vmgroup", "rm", "--name", "g1", "--remove-volumes", "--force")
    assert group_names(tenv) == ["_DEFAULT"] and tenv.vmdks() == []


async def test_membership_change_refused_while_the_vm_has_a_volume_attached(tenv: Tenv, needs_root: None) -> None:
    vm1, _ = await group_with_volumes(tenv)
    vm2 = await tenv.vm("vm2")  # in _DEFAULT
    await vm2.client.create("d", {}, [])
    await vm1.client.attach("a")
    await vm2.client.attach("d")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "local1")
    before = tenv.state()
    mounted = "VM '{}' has volumes mounted."
    cases = [
        (["vm", "rm", "--name", "g1", "--vm-list", "vm1"], "Cannot complete vmgroup vm rm. " + mounted.format("vm1")),
        (
            ["vm", "replace", "--name", "g1", "--vm-list", "vm2"],
            "Cannot complete vmgroup vm replace. " + mounted.format("vm1"),
        ),
        (["vm", "add", "--name", "g2", "--vm-list", "vm2"], "Cannot add VM to vmgroup " + mounted.format("vm2")),
        (
            ["create", "--name", "g3", "--default-datastore", "local1", "--vm-list", "vm2"],
            "Cannot add VM to vmgroup " + mounted.format("vm2"),
        ),
    ]
    for args, message in cases:
        assert tenv.refused("vmgroup", *args) == message, args
    assert tenv.state() == before
    await vm1.client.detach("a")
    await vm2.client.detach("d")
    tenv.ok("vmgroup", "vm", "replace", "--name", "g1", "--vm-list", "vm2")
    tenv.ok("vmgroup", "vm", "add", "--name", "g2", "--vm-list", "vm1")
    groups = {g["name"]: [v["name"] for v in g["vms"]] for g in tenv.js("vmgroup", "ls")}
    assert groups == {"_DEFAULT": [], "g1": ["vm2"], "g2": ["vm1"]}
