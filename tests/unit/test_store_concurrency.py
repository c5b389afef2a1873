"""Concurrent reservations: separate connections to one file never overshoot a quota."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import SqliteStore, VolumeConflict

THREADS = 20
SIZE_MB = 100
QUOTA_MB = 10 * SIZE_MB  # room for exactly ten


def race(path: Path, url: str, name_of: Callable[[int], str]) -> dict[str, list[object]]:
    """THREADS threads, each with its own SqliteStore, reserve at the same moment."""
    barrier = threading.Barrier(THREADS)
    outcomes: dict[str, list[object]] = {"ok": [], "quota": [], "conflict": [], "other": []}
    lock = threading.Lock()

    def worker(i: int) -> None:
        store = SqliteStore(path)
        try:
            barrier.wait(timeout=30)
            record = store.reserve_volume(
                DEFAULT_VMGROUP_ID,
                url,
                name_of(i),
                SIZE_MB,
                QUOTA_MB,
                options={},
                created="",
                created_by=f"vm{i}",
                created_by_uuid=f"uuid-{i}",
            )
            kind: str = "ok"
            value: object = record.id
        except VdvsError as exc:
            kind, value = ("quota" if exc.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED else "other"), exc
        except VolumeConflict as exc:
            kind, value = "conflict", exc
        except BaseException as exc:
            kind, value = "other", exc
        finally:
            store.close()
        with lock:
            outcomes[kind].append(value)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a reservation hung"
    return outcomes


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.db"
    store = SqliteStore(path)
    store.initialize()
    store.close()
    return path


@pytest.mark.parametrize("round_", range(3))
def test_racing_reservations_respect_the_quota(db_path: Path, round_: int) -> None:
    url = f"ds:///vmfs/volumes/ds{round_}/"
    outcomes = race(db_path, url, lambda i: f"vol{i}")
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 10
    assert len(outcomes["quota"]) == 10
    assert outcomes["conflict"] == []
    store = SqliteStore(db_path)
    try:
        assert store.usage_mb(DEFAULT_VMGROUP_ID, url) == 10 * SIZE_MB
        rows = store.list_volumes(states=(VolumeState.CREATING,))
        assert {r.id for r in rows} == set(outcomes["ok"])
    finally:
        store.close()


def test_racing_reservations_of_one_name(db_path: Path) -> None:
    url = "ds:///vmfs/volumes/same/"
    outcomes = race(db_path, url, lambda i: "shared")
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == 1
    assert len(outcomes["conflict"]) == THREADS - 1
    for exc in outcomes["conflict"]:
        assert isinstance(exc, VolumeConflict)
        assert exc.current is not None
        assert exc.current.id == outcomes["ok"][0]
    store = SqliteStore(db_path)
    try:
        assert store.usage_mb(DEFAULT_VMGROUP_ID, url) == SIZE_MB
    finally:
        store.close()
