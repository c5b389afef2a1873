"""Membership rules on vSphere (vcsim): a VM joins a vmgroup by its name, inventory folder or custom
attribute, and a rename, a move to another folder or an attribute changed in vCenter moves it on
its next call, with no broker restart (the property collector watches them)."""

from __future__ import annotations

import pytest

from testkit.vsphere_env import VsEnv, eventually
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, status_of
from vdvs.plugin.broker_client import BrokerClient
from vdvs.proto import admin_pb2

SEEN_WITHIN_S = 10.0  # the watcher reports a change as vCenter makes it; generous for a loaded machine


async def vmgroup(vs: VsEnv, name: str) -> admin_pb2.Vmgroup:
    return await admin(vs.env, "VmgroupCreate", admin_pb2.VmgroupCreateRequest(name=name, default_datastore=DATASTORE))


async def add_rule(vs: VsEnv, group: str, match: str, priority: int) -> admin_pb2.MembershipRule:
    request = admin_pb2.VmgroupRuleRequest(name=group, match=match, priority=priority)
    return await admin(vs.env, "VmgroupRuleAdd", request)


async def watching(vs: VsEnv) -> None:
    await eventually(lambda: vs.backend.power_watch_ready, SEEN_WITHIN_S, "the VM watcher's first view")


async def namespace_becomes(client: BrokerClient, names: list[str], what: str) -> None:
    """The VM's next calls list exactly ``names``: the vmgroup it is in now."""

    async def listed() -> bool:
        return sorted(await client.list_names()) == names

    await eventually(listed, SEEN_WITHIN_S, what)


def vpx_only(vs: VsEnv) -> None:
    if vs.sim.mode == "esx":
        pytest.skip("standalone ESX has one VM folder and no CustomFieldsManager")


async def test_a_name_rule_places_a_vm_and_a_rename_in_vcenter_moves_it(vs: VsEnv) -> None:
    vm0, c0 = await vs.vm_client(0)
    web = await vmgroup(vs, "web")
    await add_rule(vs, "web", f"name={vm0.name}", 10)
    await watching(vs)
    await bounded(c0.create("a", {}, FILESYSTEMS))  # the VM's first call: in web, by its vCenter name
    assert vs.file("a.vmdk", web.id).exists()
    assert await bounded(c0.list_names()) == [f"a@{DATASTORE}"]

    vs.insp.rename(vm0.uuid, "renamed-vm")
    await namespace_becomes(c0, [], "the renamed VM in _DEFAULT")
    # a rule on the new name brings it back, at its next call
    await admin(vs.env, "VmgroupRuleSet", admin_pb2.VmgroupRuleRequest(name="web", match="name=renamed-*", priority=10))
    assert await bounded(c0.list_names()) == [f"a@{DATASTORE}"]


async def test_a_folder_rule_follows_the_vm_moved_between_folders(vs: VsEnv) -> None:
    vpx_only(vs)
    vm0, c0 = await vs.vm_client(0)
    web = await vmgroup(vs, "web")
    await add_rule(vs, "web", "folder=/DC0/vm/web/*", 10)
    await watching(vs)
    await bounded(c0.create(f"outside@{DATASTORE}", {}, FILESYSTEMS))  # in /DC0/vm: _DEFAULT
    vs.insp.move(vm0.uuid, "web/Front End")
    await namespace_becomes(c0, [], "the VM in web once moved into /DC0/vm/web/Front End")
    await bounded(c0.create("inside", {}, FILESYSTEMS))
    assert vs.file("inside.vmdk", web.id).exists()
    vs.insp.move(vm0.uuid, "")
    await namespace_becomes(c0, [f"outside@{DATASTORE}"], "the VM back in _DEFAULT once moved out")


async def test_an_attribute_rule_follows_the_value_and_its_definition(vs: VsEnv) -> None:
    vpx_only(vs)
    vm0, c0 = await vs.vm_client(0)
    await vmgroup(vs, "web")
    await vmgroup(vs, "db")
    await add_rule(vs, "web", "attr:team=web", 10)
    await add_rule(vs, "db", "attr:team=db", 20)
    await watching(vs)
    vs.insp.set_attribute(vm0.uuid, "team", "web")
    await namespace_becomes(c0, [], "the VM in web")  # web is empty, so was _DEFAULT: make it tell
    await bounded(c0.create("w", {}, FILESYSTEMS))
    assert await bounded(c0.list_names()) == [f"w@{DATASTORE}"]

    vs.insp.set_attribute(vm0.uuid, "team", "db")
    await namespace_becomes(c0, [], "the VM in db")
    await bounded(c0.create("d", {}, FILESYSTEMS))
    vs.insp.set_attribute(vm0.uuid, "team", "web")
    await namespace_becomes(c0, [f"w@{DATASTORE}"], "the VM back in web")

    # the attribute's definition renamed: the VM has no 'team' any more
    manager = vs.insp.content.customFieldsManager
    manager.RenameCustomFieldDef(key=next(f.key for f in manager.field if f.name == "team"), name="squad")
    await namespace_becomes(c0, [], "the VM in _DEFAULT once 'team' is renamed 'squad'")


async def test_explain_shows_the_vcenter_facts_and_every_rules_verdict(vs: VsEnv) -> None:
    vm0, _ = await vs.vm_client(0)
    await vmgroup(vs, "web")
    await vmgroup(vs, "db")
    folder = "/DC0/vm/web" if vs.sim.mode == "vpx" else "/ha-datacenter/vm"
    if vs.sim.mode == "vpx":
        vs.insp.move(vm0.uuid, "web")
        vs.insp.set_attribute(vm0.uuid, "team", "web")
    await add_rule(vs, "db", "name=db-*", 5)
    await add_rule(vs, "web", f"folder={folder}", 10)
    reply = await admin(vs.env, "VmExplain", admin_pb2.VmExplainRequest(bios_uuid=vm0.uuid.upper()))
    assert (reply.vm, reply.bios_uuid, reply.vmgroup, reply.source) == (vm0.name, vm0.uuid, "web", "rule")
    assert reply.reason == f"rule of priority 10 matched: folder={folder}"
    attrs = ["attr:team=web"] if vs.sim.mode == "vpx" else []
    assert list(reply.facts) == [f"name={vm0.name}", f"folder={folder}", *attrs]
    assert reply.facts_error == ""
    assert [(v.rule.priority, v.matched, v.verdict) for v in reply.rules] == [
        (5, False, f"no match: name=db-*: name is '{vm0.name}'"),
        (10, True, "matched: chosen"),
    ]
    # a VM vCenter does not know: said so, and decided on what the broker knows (its enrolled name)
    ghost = await vs.env.enroll("db-ghost", "42a1b2c3-0000-4000-8000-00000000dead")
    reply = await admin(vs.env, "VmExplain", admin_pb2.VmExplainRequest(vm="db-ghost"))
    assert reply.facts_error == f"Failed to find VM object for db-ghost (bios {ghost.uuid})"
    assert (reply.vmgroup, reply.reason, list(reply.facts)) == (
        "db",
        "rule of priority 5 matched: name=db-*",
        ["name=db-ghost"],
    )


async def test_a_vm_moved_to_another_folder_keeps_its_mounted_volume_detachable(vs: VsEnv) -> None:
    """vDVS refused `vm add/rm` of a VM with volumes mounted; a change in vCenter cannot be refused,
    so the VM moves at once: its idle attachment in the old vmgroup is detached, the mounted one
    stays attached until the VM itself detaches it, by the name it mounted it with."""
    vpx_only(vs)
    vm0, c0 = await vs.vm_client(0)
    web = await vmgroup(vs, "web")
    await vmgroup(vs, "db")
    await add_rule(vs, "web", "folder=/DC0/vm/web", 10)
    await add_rule(vs, "db", "folder=/DC0/vm/db", 20)
    vs.insp.move(vm0.uuid, "web")
    await watching(vs)
    for name in ("mounted", "idle"):
        await bounded(c0.create(name, {}, FILESYSTEMS))
        await bounded(c0.attach(name))
    assert await bounded(c0.release("idle")) is True  # kept attached, idle
    assert sorted(vs.attached_paths(vm0)) == sorted(vs.vmdk(n, vmgroup_id=web.id) for n in ("idle", "mounted"))

    vs.insp.move(vm0.uuid, "db")
    await eventually(
        lambda: vs.attached_paths(vm0) == [vs.vmdk("mounted", vmgroup_id=web.id)],
        SEEN_WITHIN_S,
        "the idle attachment in web detached once the VM moved to db",
    )
    assert await bounded(c0.list_names()) == []  # db's namespace
    err = await refused(c0.attach("idle"))  # web's volumes are not the VM's any more
    assert err.code == 620
    assert vs.attached_paths(vm0) == [vs.vmdk("mounted", vmgroup_id=web.id)]

    await bounded(c0.detach("mounted"))  # by the name it was mounted with
    assert vs.attached_paths(vm0) == []
    # web's members see both volumes detached
    vm1, c1 = await vs.vm_client(1)
    await admin(vs.env, "VmgroupVmAdd", admin_pb2.VmgroupVmsRequest(name="web", vm_list=[vm1.name]))
    for name in ("mounted", "idle"):
        assert status_of(await bounded(c1.get(name)))["status"] == "detached"
