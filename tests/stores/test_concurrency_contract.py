"""Both stores, many connections at once (as several brokers, or one broker's threads, would be):
reservations never overshoot a quota or a count limit, a name is taken once, an attach claim is won once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from testkit.seed import reserve
from tests.stores.conftest import Stores
from vdvs.tenancy.authz import CountLimits
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VmGroup, VolumeState
from vdvs.tenancy.store import ConfigStore, VolumeConflict

THREADS = 20
SIZE_MB = 100
QUOTA_MB = 10 * SIZE_MB  # room for exactly ten
JOIN_TIMEOUT_S = 120
REFUSALS = {
    Err.PRIVILEGE_USAGE_QUOTA_EXCEED: "quota",
    Err.VOLUME_COUNT_EXCEED: "count",
    Err.VMGROUP_VOLUME_COUNT_EXCEED: "vmgroup_count",
}


def race(stores: Stores, work: Callable[[ConfigStore, int], object], calls: int = THREADS) -> dict[str, list[object]]:
    """THREADS threads, each with its own store connection, start together and make ``calls`` calls of
    ``work`` between them (thread t makes calls t, t + THREADS, ...), each as soon as its last is done."""
    connections = [stores.open(owner=f"broker-{i % 2}") for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    outcomes: dict[str, list[object]] = {"ok": [], "conflict": [], "other": [], **{k: [] for k in REFUSALS.values()}}
    lock = threading.Lock()

    def worker(t: int) -> None:
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError as exc:
            with lock:
                outcomes["other"].append(exc)
            return
        for i in range(t, calls, THREADS):
            kind: str
            try:
                kind, value = "ok", work(connections[t], i)
            except VdvsError as exc:
                kind, value = REFUSALS.get(exc.err, "other"), exc
            except VolumeConflict as exc:
                kind, value = "conflict", exc
            except BaseException as exc:
                kind, value = "other", exc
            with lock:
                outcomes[kind].append(value)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a store call hung"
    return outcomes


@pytest.mark.parametrize("round_", range(3))
def test_racing_reservations_fill_the_quota_exactly(stores: Stores, store: ConfigStore, round_: int) -> None:
    url = f"ds:///vmfs/volumes/ds{round_}/"
    outcomes = race(stores, lambda s, i: reserve(s, f"vol{i}", SIZE_MB, QUOTA_MB, datastore_url=url))
    assert outcomes["other"] == []
    assert (len(outcomes["ok"]), len(outcomes["quota"]), outcomes["conflict"]) == (10, 10, [])
    assert store.usage_mb(DEFAULT_VMGROUP_ID, url) == QUOTA_MB
    assert {r.id for r in store.list_volumes(states=(VolumeState.CREATING,))} == set(outcomes["ok"])


RACING_CREATES = 1000
GROUPS = 50  # each with its own limit: every call t * THREADS ... lands in one vmgroup, 50 boundaries raced
COUNT_LIMIT = 7


def _groups(store: ConfigStore) -> list[str]:
    ids = [f"00000000-0000-4000-8000-{g:012d}" for g in range(GROUPS)]
    with store.transaction():
        for g, vmgroup_id in enumerate(ids):
            store.create_vmgroup(VmGroup(vmgroup_id, f"g{g:02d}", "", "_VM_DS://"))
    return ids


def _reserve_counted(store: ConfigStore, vmgroup_id: str, url: str, limits: CountLimits, i: int) -> int:
    return reserve(store, f"vol{i:04d}", SIZE_MB, vmgroup_id=vmgroup_id, datastore_url=url, counts=limits)


def test_a_thousand_racing_creates_fill_datastore_count_limits_exactly(stores: Stores, store: ConfigStore) -> None:
    """1,000 creates, THREADS at a time, into 50 vmgroups' count limits on one datastore: each holds its limit."""
    url = "ds:///vmfs/volumes/counted/"
    groups = _groups(store)
    limits = CountLimits(COUNT_LIMIT, None, "g", "counted")

    def work(s: ConfigStore, i: int) -> int:
        return _reserve_counted(s, groups[i // THREADS % GROUPS], url, limits, i)

    outcomes = race(stores, work, calls=RACING_CREATES)
    assert outcomes["other"] == []
    made = GROUPS * COUNT_LIMIT
    assert (len(outcomes["ok"]), len(outcomes["count"])) == (made, RACING_CREATES - made)
    assert [store.held(g, url)[1] for g in groups] == [COUNT_LIMIT] * GROUPS
    assert {r.id for r in store.list_volumes(states=(VolumeState.CREATING,))} == set(outcomes["ok"])
    texts = {exc.message for exc in outcomes["count"]}  # type: ignore[attr-defined]
    numbers = f"({COUNT_LIMIT} of {COUNT_LIMIT} volumes)"
    assert texts == {f"The volume count of vmgroup g on datastore counted would exceed its limit {numbers}"}


def test_a_thousand_racing_creates_on_two_datastores_fill_vmgroup_count_limits_exactly(
    stores: Stores, store: ConfigStore
) -> None:
    """A vmgroup's own limit spans datastores, whose reservations are otherwise serialized apart."""
    urls = ("ds:///vmfs/volumes/left/", "ds:///vmfs/volumes/right/")
    groups = _groups(store)

    def work(s: ConfigStore, i: int) -> int:
        url = urls[i % 2]
        return _reserve_counted(s, groups[i // THREADS % GROUPS], url, CountLimits(None, COUNT_LIMIT, "g", url), i)

    outcomes = race(stores, work, calls=RACING_CREATES)
    assert outcomes["other"] == []
    made = GROUPS * COUNT_LIMIT
    assert (len(outcomes["ok"]), len(outcomes["vmgroup_count"])) == (made, RACING_CREATES - made)
    assert [store.volume_count(g) for g in groups] == [COUNT_LIMIT] * GROUPS
    assert all(store.held(g, url)[1] > 0 for g in groups for url in urls)


def test_racing_reservations_of_one_name_make_one_row(stores: Stores, store: ConfigStore) -> None:
    url = "ds:///vmfs/volumes/same/"
    outcomes = race(stores, lambda s, i: reserve(s, "shared", SIZE_MB, QUOTA_MB, datastore_url=url))
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 1
    assert len(outcomes["conflict"]) == THREADS - 1
    for exc in outcomes["conflict"]:
        assert isinstance(exc, VolumeConflict)
        assert exc.current is not None and exc.current.id == outcomes["ok"][0]
    assert store.usage_mb(DEFAULT_VMGROUP_ID, url) == SIZE_MB


def test_racing_attach_claims_are_won_by_one_vm(stores: Stores, store: ConfigStore) -> None:
    url = "ds:///vmfs/volumes/att/"
    volume_id = reserve(store, "shared", SIZE_MB, QUOTA_MB, datastore_url=url)
    store.finish_create(volume_id)
    outcomes = race(stores, lambda s, i: s.claim_attach(volume_id, f"vm-{i}", f"vm{i}").attached_vm)
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 1
    winner = outcomes["ok"][0]
    assert all(isinstance(e, VolumeConflict) and e.current and e.current.attached_vm == winner
               for e in outcomes["conflict"])  # fmt: skip
    record = store.volume_by_id(volume_id)
    assert record is not None and record.attached_vm == winner


def test_racing_remove_and_attach_never_both_win(stores: Stores, store: ConfigStore) -> None:
    """Half the threads try to remove the volume, half to attach it: exactly one of all of them wins."""
    url = "ds:///vmfs/volumes/rm/"
    volume_id = reserve(store, "contested", SIZE_MB, QUOTA_MB, datastore_url=url)
    store.finish_create(volume_id)

    def work(s: ConfigStore, i: int) -> str:
        if i % 2:
            return s.begin_remove(volume_id).state.value
        return f"attached:{s.claim_attach(volume_id, f'vm-{i}', f'vm{i}').attached_vm}"

    outcomes = race(stores, work)
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 1, outcomes["ok"]
    record = store.volume_by_id(volume_id)
    assert record is not None
    if outcomes["ok"] == ["deleting"]:
        assert (record.state, record.attached_vm) == (VolumeState.DELETING, None)
    else:
        assert record.state is VolumeState.READY and f"attached:{record.attached_vm}" == outcomes["ok"][0]
