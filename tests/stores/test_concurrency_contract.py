"""Both stores, many connections at once (as several brokers, or one broker's threads, would be):
reservations never overshoot a quota, a name is taken once, an attach claim is won once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from testkit.seed import reserve
from tests.stores.conftest import Stores
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import ConfigStore, VolumeConflict

THREADS = 20
SIZE_MB = 100
QUOTA_MB = 10 * SIZE_MB  # room for exactly ten
JOIN_TIMEOUT_S = 120


def race(stores: Stores, work: Callable[[ConfigStore, int], object]) -> dict[str, list[object]]:
    """THREADS threads, each with its own store connection, call ``work`` at the same moment."""
    connections = [stores.open(owner=f"broker-{i % 2}") for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    outcomes: dict[str, list[object]] = {"ok": [], "quota": [], "conflict": [], "other": []}
    lock = threading.Lock()

    def worker(i: int) -> None:
        kind: str
        try:
            barrier.wait(timeout=30)
            kind, value = "ok", work(connections[i], i)
        except VdvsError as exc:
            kind, value = ("quota" if exc.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED else "other"), exc
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
