"""A VM a rule change moves to another vmgroup, against a broker process (local backend, real loop
devices): vDVS refused `vm add/rm` of a VM with volumes mounted, but a rule change cannot be refused
VM by VM, so the VM moves at once. Its idle attachments in the old vmgroup are detached by the rule
command itself; the mounted ones stay attached to it, and it can still release and detach them by
the names it mounted them with. And a rule change racing creates: each create lands in exactly one
vmgroup, and no vmgroup's quota is overshot."""

from __future__ import annotations

import asyncio
import random

import pytest

from testkit.system import loops_under
from tests.tenancy.harness import Tenv, vm_refused

pytestmark = pytest.mark.usefixtures("needs_root")


def attachments(env: Tenv) -> dict[str, tuple[str, str]]:
    """volume -> (vmgroup, Attached-to) as `vdvs volume ls` shows them."""
    return {v["volume"]: (v["vmgroup"], v["attached-to"]) for v in env.js("volume", "ls")}


async def test_a_vm_moved_by_a_rule_keeps_its_mounted_volumes_detachable_and_loses_its_idle_one(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "_VM_DS")
    tenv.ok("vmgroup", "rule", "add", "--name", "web", "--match", "label:team=web", "--priority", "10")
    vm1 = await tenv.vm("vm1", labels=("team=web",))
    for name in ("released", "detached", "idle"):
        await vm1.client.create(name, {"size": "16mb"}, ["ext4"])
        await vm1.client.attach(name)
    assert await vm1.client.release("idle") is True  # kept attached, idle
    assert len(loops_under(tenv.root)) == 3
    assert attachments(tenv) == {"released": ("web", "vm1"), "detached": ("web", "vm1"), "idle": ("web", "vm1 (idle)")}

    tenv.ok("vmgroup", "rule", "rm", "--name", "web", "--priority", "10")  # vm1 falls back to _DEFAULT
    assert attachments(tenv) == {"released": ("web", "vm1"), "detached": ("web", "vm1"), "idle": ("web", "detached")}
    assert len(loops_under(tenv.root)) == 2

    assert await vm1.client.list_names() == []  # _DEFAULT's namespace: web's volumes are not the VM's now
    assert (await vm_refused(vm1.client.attach("idle"))).code == 620
    assert await vm1.client.release("released") is False  # detached, not kept idle in a vmgroup it left
    await vm1.client.detach("detached")
    assert attachments(tenv) == {n: ("web", "detached") for n in ("released", "detached", "idle")}
    assert loops_under(tenv.root) == []
    await vm1.client.detach("detached")  # again: nothing held, success as in vDVS


async def test_rule_changes_racing_creates_leave_every_volume_in_one_vmgroup_within_its_quota(tenv: Tenv) -> None:
    quota_mb, size_mb = 400, 50
    for name in ("a", "b"):
        tenv.ok("vmgroup", "create", "--name", name, "--default-datastore", "_VM_DS")
    for name in ("a", "b", "_DEFAULT"):
        tenv.ok("vmgroup", "access", "set", "--name", name, "--datastore", "_VM_DS", "--volume-totalsize", "400MB")
    vms = [await tenv.vm(name, labels=("team=x",)) for name in ("vm1", "vm2", "vm3", "vm4")]
    made: list[str] = []
    refusals: list[int] = []

    async def creates(index: int) -> None:
        for n in range(14):  # 4 VMs x 14 x 50 MB = 2,800 MB asked, 1,200 MB of quota in all
            name = f"v{index}-{n}"
            try:
                await vms[index].client.create(name, {"size": f"{size_mb}mb"}, ["ext4"])
                made.append(name)
            except Exception as exc:  # only the quota may refuse
                refusals.append(getattr(exc, "code", -1))
            await asyncio.sleep(random.uniform(0.1, 0.6))  # spread over the flips

    async def flips() -> None:
        """The VMs' vmgroup goes a, _DEFAULT, b, a, ... while they create."""
        for group in ("a", "b", "a", "b", "a"):
            await asyncio.to_thread(tenv.ok, "vmgroup", "rule", "add", "--name", group, "--match", "label:team=x",
                                    "--priority", "10")  # fmt: skip
            await asyncio.sleep(0.2)
            await asyncio.to_thread(tenv.ok, "vmgroup", "rule", "rm", "--name", group, "--priority", "10")

    await asyncio.wait_for(asyncio.gather(flips(), *(creates(i) for i in range(len(vms)))), 600)
    assert set(refusals) <= {211}, refusals  # PRIVILEGE_USAGE_QUOTA_EXCEED, nothing else
    listed = tenv.js("volume", "ls")
    assert sorted(v["volume"] for v in listed) == sorted(made)  # each create in exactly one vmgroup
    by_group: dict[str, list[str]] = {}
    for volume in listed:
        by_group.setdefault(volume["vmgroup"], []).append(volume["volume"])
    assert set(by_group) <= {"a", "b", "_DEFAULT"} and len(by_group) >= 2, by_group  # the flips were seen
    for group, names in by_group.items():
        assert tenv.usage(group) == len(names) * size_mb <= quota_mb, (group, names)
        group_id = tenv.group_id(group)
        files = sorted(p.stem for p in (tenv.datastore_dir("local1") / "dockvols" / group_id).glob("*.vmdk"))
        assert files == sorted(names), group  # each disk in its own vmgroup's folder, and only there
    assert len(made) + len(refusals) == 4 * 14
