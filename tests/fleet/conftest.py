"""One fleet for the session (three dockerd nodes, a broker on vcsim, a swarm): starting it takes
seconds, but every test of this folder shares it; each test leaves every node back in the swarm."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testkit.fleet import Fleet, start_fleet


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, dockerd, loop devices, mounts")
    from testkit.vsphere_sim import VcsimNotBuilt, vcsim_binary

    try:
        vcsim_binary()
    except VcsimNotBuilt as exc:
        pytest.skip(str(exc))
    started = start_fleet()
    try:
        yield started
    finally:
        started.stop()
