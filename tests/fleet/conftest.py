"""One fleet for this folder (three dockerd nodes, a broker on vcsim, a swarm): starting it takes
seconds, so every test here shares it, and it is stopped when the folder is done (its nodes' mount
namespaces would otherwise outlive it, next to the other suites); each test leaves every node back in
the swarm."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testkit.fleet import Fleet, start_fleet


@pytest.fixture(scope="package")
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
