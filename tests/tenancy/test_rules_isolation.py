"""Namespace isolation on a shared datastore: two vmgroups each own `db@local1`; a VM only ever sees,
attaches and removes its own, never learns another vmgroup's names; the admin sees all."""

from __future__ import annotations

import os

from tests.tenancy.harness import Tenv, Vm, vm_refused
from vdvs.plugin.broker_client import BrokerError


async def two_groups(env: Tenv) -> tuple[Vm, Vm, str, str]:
    vm1, vm2 = await env.vm("vm1"), await env.vm("vm2")
    env.ok("vmgroup", "create", "--name", "alpha-team", "--default-datastore", "local1", "--vm-list", "vm1")
    env.ok("vmgroup", "create", "--name", "bravo-team", "--default-datastore", "local1", "--vm-list", "vm2")
    return vm1, vm2, env.group_id("alpha-team"), env.group_id("bravo-team")


async def test_two_vmgroups_each_own_their_db_at_local1(tenv: Tenv, needs_root: None) -> None:
    vm1, vm2, alpha, bravo = await two_groups(tenv)
    await vm1.client.create("db@local1", {"size": "100mb"}, [])
    await vm2.client.create("db", {"size": "200mb"}, [])
    assert tenv.vmdks() == sorted([f"local1:{alpha}/db.vmdk", f"local1:{bravo}/db.vmdk"])
    assert await vm1.client.list_names() == await vm2.client.list_names() == ["db@local1"]
    assert ((await vm1.client.get("db")).capacity_mb, (await vm2.client.get("db@local1")).capacity_mb) == (100, 200)
    listing = tenv.js("volume", "ls", "-c", "volume,vmgroup,capacity,created-by")
    assert listing == [
        {"volume": "db", "vmgroup": "alpha-team", "capacity": "100.00MB", "created-by": "vm1"},
        {"volume": "db", "vmgroup": "bravo-team", "capacity": "200.00MB", "created-by": "vm2"},
    ]
    # both attached at once: two different disks
    dev1 = (await vm1.client.attach("db")).device
    dev2 = (await vm2.client.attach("db@local1")).device
    assert dev1.backing_file == str(tenv.disk("local1", alpha, "db"))
    assert dev2.backing_file == str(tenv.disk("local1", bravo, "db"))
    assert dev1.path != dev2.path
    assert [r["attached-to"] for r in tenv.js("volume", "ls", "-c", "volume,attached-to")] == ["vm1", "vm2"]
    await vm1.client.detach("db")
    # vm1 removes its db; bravo's stays, with its own attachment and usage
    await vm1.client.remove("db")
    assert await vm1.client.list_names() == []
    assert (await vm_refused(vm1.client.get("db"))).code == 620
    assert (await vm2.client.get("db")).attached_to_vm == "vm2"
    assert (tenv.usage("alpha-team"), tenv.usage("bravo-team")) == (0, 200)
    await vm2.client.detach("db")
    await vm2.client.remove("db")
    assert tenv.vmdks() == []


async def test_a_vm_never_learns_another_vmgroups_names(tenv: Tenv, needs_root: None) -> None:
    vm1, vm2, alpha, _ = await two_groups(tenv)
    vm3 = await tenv.vm("vm3")  # in no vmgroup: _DEFAULT
    await vm1.client.create("secret", {}, [])
    await vm1.client.attach("secret")
    errors: list[BrokerError] = []
    for vm in (vm2, vm3):
        assert await vm.client.list_names() == []
        for call in (
            vm.client.get("secret"),
            vm.client.get("secret@local1"),
            vm.client.remove("secret"),
            vm.client.attach("secret"),
            vm.client.create("copy", {"clone-from": "secret"}, []),
            vm.client.create("x@nowhere", {}, []),
        ):
            errors.append(await vm_refused(call))
    for err in errors:
        for leak in (alpha, "alpha-team", "vm1"):
            assert leak not in err.message, err.message
    assert {e.code for e in errors} == {620, 624, 606}
    await vm2.client.detach("secret")  # not theirs: a no-op, and alpha's attachment is untouched
    assert (await vm1.client.get("secret")).attached_to_vm == "vm1"
    # the same name in its own namespace is simply a different volume
    await vm2.client.create("secret", {}, [])
    assert await vm2.client.list_names() == ["secret@local1"]
    await vm1.client.detach("secret")
    assert sorted(r["vmgroup"] for r in tenv.js("volume", "ls", "-c", "vmgroup")) == ["alpha-team", "bravo-team"]


async def test_rename_moves_the_vmgroup_name_link(tenv: Tenv) -> None:
    """vDVS kept `dockvols/<vmgroup name>` -> `<uuid>` links current (renamed with the vmgroup). A stale link
    makes `dockvols/web` show another vmgroup's disks once a new `web` exists."""
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    old_web = tenv.group_id("web")
    await vm1.client.create("v", {}, [])
    dockvols = tenv.datastore_dir("local1") / "dockvols"
    assert os.readlink(dockvols / "web").endswith(old_web)
    tenv.ok("vmgroup", "update", "--name", "web", "--new-name", "www")
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm2")
    new_web = tenv.group_id("web")
    await vm2.client.create("w", {}, [])
    links = {n: os.readlink(dockvols / n).rsplit("/", 1)[-1] for n in ("web", "www") if os.path.lexists(dockvols / n)}
    assert links == {"web": new_web, "www": old_web}


async def test_rm_removes_the_vmgroup_name_link(tenv: Tenv) -> None:
    """vDVS removed the `dockvols/<vmgroup name>` link of a removed vmgroup on every datastore."""
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "access", "add", "--name", "web", "--datastore", "local2", "--allow-create")
    await vm1.client.create("v", {}, [])
    await vm1.client.create("v@local2", {}, [])
    tenv.ok("vmgroup", "rm", "--name", "web", "--remove-volumes", "--force")
    for datastore in ("local1", "local2"):
        link = tenv.datastore_dir(datastore) / "dockvols" / "web"
        assert not os.path.lexists(link), f"{link} still points at the removed vmgroup's folder"
