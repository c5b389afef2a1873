"""Datastore room on vSphere: the same checks as on the local backend, from the datastore's ``summary``
(``capacity``, ``freeSpace``). vcsim reports its folder's real free space; the small datastores the
over-commit and fill tests need are a rewritten summary (``fault_injected``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from testkit.vsphere_env import VsEnv, start_vsphere_env
from testkit.vsphere_sim import DATASTORE, Inspector, Sim
from tests.broker.helpers import FILESYSTEMS, bounded, refused
from vdvs.tenancy.sizes import space_text

MB = 1024 * 1024
GB = 1024 * MB


def small_datastore(vs: VsEnv, monkeypatch: pytest.MonkeyPatch, capacity: int, free: int) -> None:
    """Every summary of datastore1 the broker reads says ``capacity`` and ``free`` bytes."""
    session = vs.backend.session
    real = session.retrieve

    def retrieve(objs: list[Any], type_: Any, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        rows = real(objs, type_, paths)
        for _, props in rows:
            summary = props.get("summary")
            if summary is not None and getattr(summary, "name", None) == DATASTORE:
                summary.capacity, summary.freeSpace = capacity, free
        return rows

    monkeypatch.setattr(session, "retrieve", retrieve)


@pytest.mark.parametrize("diskformat", ["zeroedthick", "eagerzeroedthick"])
async def test_a_thick_volume_past_the_datastores_free_space_is_refused(vs: VsEnv, diskformat: str) -> None:
    _, client = await vs.vm_client(0)
    free = (await asyncio.to_thread(vs.backend.datastore_space, DATASTORE)).free_bytes
    size_gb = free // GB + 1
    err = await refused(client.create(f"big@{DATASTORE}", {"size": f"{size_gb}gb", "diskformat": diskformat}, []))
    assert (err.code, err.name) == (638, "DATASTORE_NO_SPACE")
    assert err.message == (
        f"Not enough free space on datastore {DATASTORE} for a {size_gb}GB {diskformat} volume: {space_text(free)} free"
    )
    assert vs.env.rows() == [] and vs.disk_files() == []


async def test_the_datastores_room_is_its_summary(vs: VsEnv) -> None:
    space = await asyncio.to_thread(vs.backend.datastore_space, DATASTORE)
    [info] = [d for d in await asyncio.to_thread(vs.backend.datastores) if d.name == DATASTORE]
    assert (space.name, space.capacity_bytes, space.filesystem) == (DATASTORE, info.capacity_bytes, info.kind)
    assert 0 < space.free_bytes <= space.capacity_bytes
    assert space.largest_file_bytes is None  # vSphere's largest disk (62 TB) is the size parser's cap


async def test_thin_over_commit_on_vsphere_names_the_numbers_fault_injected(
    short_tmp: Path, sim: Sim, insp: Inspector, monkeypatch: pytest.MonkeyPatch
) -> None:
    vs = await start_vsphere_env(short_tmp, sim, insp, overcommit={DATASTORE: 1.0})
    try:
        small_datastore(vs, monkeypatch, 64 * MB, 64 * MB)
        _, client = await vs.vm_client(0)
        await bounded(client.create(f"first@{DATASTORE}", {"size": "40mb"}, FILESYSTEMS))
        err = await refused(client.create(f"second@{DATASTORE}", {"size": "30mb"}, FILESYSTEMS))
        assert (err.code, err.message) == (
            639,
            f"Volume size 30MB would bring datastore {DATASTORE}'s volumes to 70MB, past its over-commit limit "
            "of 64MB (1 x 64MB free or held by its volumes)",
        )
        assert [r[0] for r in vs.env.rows()] == ["first"]
        await bounded(client.create(f"second@{DATASTORE}", {"size": "24mb"}, FILESYSTEMS))
    finally:
        await vs.close()


async def test_thick_on_a_full_vsphere_datastore_is_refused_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_datastore(vs, monkeypatch, 64 * MB, 10 * MB)
    _, client = await vs.vm_client(0)
    err = await refused(client.create(f"t@{DATASTORE}", {"size": "11mb", "diskformat": "zeroedthick"}, []))
    assert err.message == f"Not enough free space on datastore {DATASTORE} for a 11MB zeroedthick volume: 10MB free"
    await bounded(client.create(f"t@{DATASTORE}", {"size": "10mb", "diskformat": "zeroedthick"}, []))
    await bounded(client.create(f"thin@{DATASTORE}", {"size": "1gb"}, []))  # no ratio: thin is unlimited


async def test_a_vsphere_datastore_past_90_percent_is_warned_of_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vdvs.broker.capacity")
    small_datastore(vs, monkeypatch, 100 * GB, 5 * GB)
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"a@{DATASTORE}", {"size": "1mb"}, []))
    await bounded(client.create(f"b@{DATASTORE}", {"size": "1mb"}, []))
    warnings = [r.getMessage() for r in caplog.records if r.name == "vdvs.broker.capacity"]
    assert warnings == [f"datastore {DATASTORE} is 95% full, past 90% (95GB of 100GB in use, 5GB free)"]
