"""The pytest side of testkit: marks and fixtures that several test folders share (a plugin of
tests/conftest.py).

The rest of testkit does not import pytest (the benchmarks use it too); what turns "not available
here" into a skip lives here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from testkit.postgres import PostgresCluster, acquire_cluster, release_cluster, unavailable_reason

if TYPE_CHECKING:
    from testkit.vsphere_latency import LatencyModel
    from testkit.vsphere_sim import Sim

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices, mkfs and mount")


def start_sim_or_skip(mode: str, extra_args: tuple[str, ...] = (), latency: LatencyModel | None = None) -> Sim:
    """A running vcsim in ``mode`` ("vpx" or "esx"); skips when vcsim was never built here."""
    from testkit.vsphere_sim import VcsimNotBuilt, start_sim  # pyVmomi: only for the tests that use it

    try:
        return start_sim(mode, extra_args, latency)
    except VcsimNotBuilt as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A running PostgreSQL for the whole session (skips when not root or not installed)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = acquire_cluster()
    try:
        yield cluster
    finally:
        release_cluster()


@pytest.fixture
def pg_dsn(pg_cluster: PostgresCluster) -> Iterator[str]:
    """The DSN of a database created for this test alone (dropped afterwards)."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster.dsn(name)
    finally:
        pg_cluster.drop_database(name)
