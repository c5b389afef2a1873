"""Failover: broker A is killed (SIGKILL) in the middle of work; broker B keeps serving the same
volumes; A restarts and settles only its own interrupted operations (and long-abandoned ones),
never B's; nothing any VM was told exists is lost, and quota usage equals the volumes' sizes."""

from __future__ import annotations

import asyncio
import time

from testkit.seed import reserve
from testkit.system import loops_under
from tests.multihost.conftest import VM_UUIDS, Pair
from tests.multihost.harness import bounded, outcomes
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState

ROW_WAIT_S = 30.0


def in_flight(pair: Pair, owner: str, name: str, started: float | None = None) -> None:
    """A create another broker has under way (its row reserved, its disk not made yet)."""
    with pair.store(owner) as s:
        reserve(s, name, 10, datastore_url=pair.datastore_url(), created_by="vm-x", op_started=started)


async def wait_for_row(pair: Pair, name: str, state: VolumeState) -> None:
    deadline = time.monotonic() + ROW_WAIT_S
    while time.monotonic() < deadline:
        with pair.store() as s:
            row = s.get_volume(DEFAULT_VMGROUP_ID, pair.datastore_url(), name)
        if row is not None and row.state is state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} never reached {state} in {ROW_WAIT_S}s")


async def test_failover_kill_a_b_serves_a_settles_only_its_own(pair: Pair) -> None:
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    vm2 = await pair.vm("vm2", VM_UUIDS["vm2"])
    first = await outcomes(*(vm.via(node).create(f"{node.name}{i:02d}", {"size": "10mb"}, [])
                             for i, vm in enumerate([vm1, vm2] * 5) for node in (pair.a, pair.b)))  # fmt: skip
    assert not [r for r in first if isinstance(r, BaseException)], first
    reported = {r.name for r in first}
    assert len(reported) == 20

    # work under way on A when it dies: a slow create (512 MB written out), and a burst of small ones
    slow = asyncio.ensure_future(
        vm1.via(pair.a).create("slow", {"size": "512mb", "diskformat": "eagerzeroedthick"}, [])
    )
    burst = [asyncio.ensure_future(vm2.via(pair.a).create(f"burst{i}", {"size": "10mb"}, [])) for i in range(8)]
    await wait_for_row(pair, "slow", VolumeState.CREATING)
    pair.a.kill()
    results = await outcomes(slow, *burst)
    assert isinstance(results[0], BrokerError), "the slow create finished before the kill: nothing was interrupted"
    reported |= {r.name for r in results if not isinstance(r, BaseException)}
    assert all(isinstance(r, BrokerError) for r in results if isinstance(r, BaseException)), results
    with pair.store() as s:
        slow_row = s.get_volume(DEFAULT_VMGROUP_ID, pair.datastore_url(), "slow")
    assert slow_row is not None and slow_row.state is VolumeState.CREATING

    # B serves every volume, A's included, while A is down
    assert reported <= {n.split("@")[0] for n in await bounded(vm1.via(pair.b).list_names())}
    assert (await bounded(vm2.via(pair.b).get("a00"))).capacity_mb == 10
    await bounded(vm2.via(pair.b).remove("a01"))
    reported.discard("a01")
    reported.add((await bounded(vm2.via(pair.b).create("during", {"size": "10mb"}, []))).name)
    held = await bounded(vm1.via(pair.b).attach("a02"))
    # a create B has under way, and one whose broker vanished an hour ago
    in_flight(pair, "broker-b", "b-inflight")
    in_flight(pair, "broker-gone", "abandoned", started=time.time() - 3600)

    pair.a.start()  # A restarts: startup reconciliation (unless B's sweep, seeing A gone, did it first)
    messages = pair.a.log_messages() + pair.b.log_messages()
    settled = [m for m in messages if m.startswith("reconcile: undid interrupted create")]
    names = {m.split(": ", 2)[2].split("@")[0] for m in settled}
    assert {"slow", "abandoned"} <= names, settled
    assert "b-inflight" not in names  # B's own, B is alive: left alone
    assert names <= {"slow", "abandoned"} | {f"burst{i}" for i in range(8)}
    repaired = int(pair.a.status()["Reconcile_Repaired"]) + int(pair.b.status()["Reconcile_Repaired"])
    assert repaired >= len(names)
    rows = {r[0]: r[1] for r in pair.rows()}
    assert rows["b-inflight"] == "creating"
    assert "slow" not in rows and "abandoned" not in rows
    assert not any(state != "ready" for name, state in rows.items() if name != "b-inflight"), rows
    assert "slow" not in pair.vmdks()
    assert not list((pair.root / "datastores" / "local1" / ".vdvs-tmp").rglob("*.vmdk"))  # no half-written file

    # B's attachment survived A's restart, and A can undo it
    assert loops_under(pair.root) == [held.device.path]
    assert (await bounded(vm1.via(pair.a).get("a02"))).attached_to_vm == "vm1"
    await bounded(vm1.via(pair.a).detach("a02"))
    assert loops_under(pair.root) == []

    # nothing lost: everything reported created is there, on disk and in both brokers' listings
    ready = pair.ready_sizes()
    assert reported <= set(ready), reported - set(ready)
    assert sorted(ready) == pair.vmdks()  # no row without its disk, no disk without its row
    for node in (pair.a, pair.b):
        assert sorted(n.split("@")[0] for n in await bounded(vm2.via(node).list_names())) == sorted(ready)
    assert pair.usage() == sum(ready.values()) + 10  # plus B's open reservation
    pair.b.stop()
    pair.b.start()  # B settles its own at restart, unless A's sweep, seeing B gone, did it first
    messages = pair.a.log_messages() + pair.b.log_messages()
    assert any("b-inflight" in m for m in messages if m.startswith("reconcile: undid"))
    assert [r for r in pair.rows() if r[1] != "ready"] == []
    assert pair.usage() == sum(pair.ready_sizes().values()) == sum(ready.values())


async def test_a_dead_brokers_operations_are_settled_by_a_live_one_without_a_restart(pair: Pair) -> None:
    """Reservations expire (Cinder's rule): A dies mid-create and stays down; B notices A stopped
    beating and its sweep settles A's row, so the quota A held is free again with no restart at all."""
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    slow = asyncio.ensure_future(
        vm1.via(pair.a).create("slow", {"size": "512mb", "diskformat": "eagerzeroedthick"}, [])
    )
    await wait_for_row(pair, "slow", VolumeState.CREATING)
    pair.a.kill()
    assert isinstance((await outcomes(slow))[0], BrokerError)
    deadline = time.monotonic() + ROW_WAIT_S
    while "slow" in {r[0] for r in pair.rows()}:
        assert time.monotonic() < deadline, "B never settled A's interrupted create"
        await asyncio.sleep(0.05)
    assert any("slow" in m for m in pair.b.log_messages() if m.startswith("reconcile: undid interrupted create"))
    assert "slow" not in pair.vmdks() and pair.usage() == 0
    assert (await bounded(vm1.via(pair.b).create("slow", {"size": "10mb"}, []))).name == "slow"
