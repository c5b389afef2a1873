"""Two brokers, one store: quotas hold across brokers, a volume attached through one broker is
refused through the other, and each broker serves what the other made."""

from __future__ import annotations

import asyncio

from testkit.fixtures import needs_root
from testkit.system import loop_backing_files, loops_under
from tests.multihost.conftest import VM_UUIDS, Pair
from tests.multihost.harness import bounded, outcomes
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

QUOTA_EXCEEDED = "The total volume size exceeds the usage quota"


async def test_racing_creates_on_two_brokers_never_overshoot_a_quota(pair: Pair) -> None:
    vms = [await pair.vm(name, VM_UUIDS[name]) for name in ("vm1", "vm2", "vm3", "vm4")]
    pair.a.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1,vm2,vm3,vm4")
    pair.b.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "1GB")
    group = next(g["id"] for g in pair.b.js("vmgroup", "ls") if g["name"] == "g1")
    # 40 creates of 100 MB at once, 20 through each broker, from four VMs: 10 fit in 1024 MB
    calls = [vms[i % 4].via(pair.a if i % 2 else pair.b).create(f"v{i:02d}", {"size": "100mb"}, []) for i in range(40)]
    results = await outcomes(*calls)
    made = sorted(r.name for r in results if not isinstance(r, BaseException))
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 10, results
    assert all(isinstance(r, BrokerError) and (r.code, r.message) == (211, QUOTA_EXCEEDED) for r in refusals), refusals
    made_by = {name: [r.full_name for r in results if not isinstance(r, BaseException)].count(f"{name}@local1")
               for name in made}  # fmt: skip
    assert set(made_by.values()) == {1}
    assert pair.usage(group) == 1000
    assert pair.ready_sizes(group) == dict.fromkeys(made, 100)
    assert [r[1] for r in pair.rows()] == ["ready"] * 10  # no reservation left behind
    assert pair.vmdks(group) == made
    for node in (pair.a, pair.b):  # both brokers list the same volumes, to admins and to every VM
        assert sorted(r["volume"] for r in node.js("volume", "ls", "-c", "volume")) == made
        for vm in vms:
            assert sorted(await bounded(vm.via(node).list_names())) == [f"{n}@local1" for n in made]
    # a removal through one broker frees room for a create through the other
    await bounded(vms[0].via(pair.a).remove(made[0]))
    refused = await outcomes(vms[1].via(pair.a).create("big", {"size": "200mb"}, []))
    assert isinstance(refused[0], BrokerError) and refused[0].code == 211
    created = await bounded(vms[1].via(pair.b).create("late", {"size": "100mb"}, []))
    assert created.full_name == "late@local1"
    assert pair.usage(group) == 1000


async def test_a_volume_made_on_one_broker_is_served_by_the_other(pair: Pair) -> None:
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    created = await bounded(vm1.via(pair.a).create("data", {"size": "50mb", "fstype": "ext3"}, ["ext3"]))
    seen = await bounded(vm1.via(pair.b).get("data"))
    assert (seen.full_name, seen.fstype, seen.capacity_mb, seen.created_at) == (
        created.full_name, "ext3", 50, created.created_at,
    )  # fmt: skip
    dup = (await outcomes(vm1.via(pair.b).create("data", {"size": "50mb"}, [])))[0]
    assert isinstance(dup, BrokerError) and dup.code == 621  # the name is taken, whichever broker asks
    assert [v["volume"] for v in pair.b.js("volume", "ls", "--vmgroup", "_DEF*")] == ["data"]
    assert pair.b.js("volume", "ls", "--vmgroup", "no-such-group*") == []  # an empty IN () on PostgreSQL
    await bounded(vm1.via(pair.b).remove("data"))
    gone = (await outcomes(vm1.via(pair.a).get("data")))[0]
    assert isinstance(gone, BrokerError) and gone.code == 620
    assert pair.rows() == [] and pair.vmdks() == []


async def test_revoking_through_one_broker_refuses_the_vm_on_both(pair: Pair) -> None:
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    assert await bounded(vm1.via(pair.b).list_names()) == []
    pair.a.ok("vm", "revoke", "--uuid", VM_UUIDS["vm1"])
    err = (await outcomes(vm1.via(pair.a).list_names()))[0]  # the broker that revoked: on the very next call
    assert isinstance(err, BrokerError) and err.code == 641, err
    # the other broker kept the VM's identity cached: it drops it at its next generation poll (one
    # heartbeat, [broker] heartbeat_s: 0.2 s here); wait for that, bounded
    deadline = asyncio.get_running_loop().time() + 10.0
    while not isinstance(err := (await outcomes(vm1.via(pair.b).list_names()))[0], BrokerError):
        assert asyncio.get_running_loop().time() < deadline, "broker B still serves a revoked certificate"
        await asyncio.sleep(0.05)
    assert err.code == 641, err


@needs_root
async def test_attached_through_one_broker_is_refused_through_the_other_naming_the_holder(pair: Pair) -> None:
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    vm2 = await pair.vm("vm2", VM_UUIDS["vm2"])
    await bounded(vm1.via(pair.a).create("shared", {"size": "32mb"}, []))
    first = await bounded(vm1.via(pair.a).attach("shared"))
    disk = (pair.root / "datastores" / "local1").resolve() / "dockvols" / DEFAULT_VMGROUP_ID / "shared.vmdk"
    assert first.device.kind == "loop"
    assert loop_backing_files()[first.device.path] == first.device.backing_file == str(disk)
    err = (await outcomes(vm2.via(pair.b).attach("shared")))[0]
    assert isinstance(err, BrokerError), err
    assert err.code == 623
    assert err.message.startswith("Failed to attach volume shared@local1: disk ")
    assert err.message.endswith("already attached to VM=vm1")
    seen = await bounded(vm2.via(pair.b).get("shared"))
    assert seen.attached_to_vm == "vm1"
    busy = (await outcomes(vm2.via(pair.b).remove("shared")))[0]
    assert isinstance(busy, BrokerError) and busy.code == 622 and "in use by VM = vm1" in busy.message
    assert loops_under(pair.root) == [first.device.path]
    await bounded(vm1.via(pair.a).detach("shared"))
    assert loops_under(pair.root) == []
    second = await bounded(vm2.via(pair.b).attach("shared"))
    assert second.volume.attached_to_vm == "vm2"
    assert loops_under(pair.root) == [second.device.path]
    err = (await outcomes(vm1.via(pair.a).attach("shared")))[0]
    assert isinstance(err, BrokerError) and err.code == 623 and err.message.endswith("VM=vm2")
    await bounded(vm2.via(pair.b).detach("shared"))
    await bounded(vm1.via(pair.a).remove("shared"))
    assert loops_under(pair.root) == [] and pair.rows() == [] and pair.vmdks() == []
