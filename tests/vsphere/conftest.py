"""vsphere backend fixtures: one vcsim per mode (vCenter and standalone ESX) for the session,
reset between tests, and a real broker on it per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_env import VsEnv, start_vsphere_env
from testkit.vsphere_sim import Inspector, Sim, stop_sim


@pytest.fixture(scope="session", params=["vpx", "esx"])
def sim(request: pytest.FixtureRequest) -> Iterator[Sim]:
    started = start_sim_or_skip(request.param)
    try:
        yield started
    finally:
        stop_sim(started)


@pytest.fixture
def insp(sim: Sim) -> Iterator[Inspector]:
    """The test's own session on the simulator; every VM powered on and bare before and after."""
    inspector = Inspector(sim)
    inspector.reset()
    try:
        yield inspector
    finally:
        inspector.reset()
        inspector.close()


@pytest.fixture
async def vs(short_tmp: Path, sim: Sim, insp: Inspector) -> AsyncIterator[VsEnv]:
    env = await start_vsphere_env(short_tmp, sim, insp)
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
async def vs_unwatched(short_tmp: Path, sim: Sim, insp: Inspector) -> AsyncIterator[VsEnv]:
    """A broker without the power watcher: power-offs are only seen at the next attach (takeover)."""
    env = await start_vsphere_env(short_tmp, sim, insp, watch=False)
    try:
        yield env
    finally:
        await env.close()
