"""Shared fixtures: a real broker (gRPC + mTLS, local backend, SQLite) per test."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.docker_env import DockerEngine, DockerUnavailable, VdvsUp
from testkit.system import cleanup_host

# pg_cluster / pg_dsn: the session's PostgreSQL and a fresh database per test
pytest_plugins = ["testkit.fixtures"]
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
DOCKER_LOCK = "/tmp/vdvs-docker-tests.lock"
DOCKER_LOCK_WAIT_S = 1800.0


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: unix socket paths are limited to 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="vdvs-") as tmp:
        root = Path(tmp)
        try:
            yield root
        finally:
            if os.geteuid() == 0:
                cleanup_host(root)


@pytest.fixture
async def broker_env(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    env = await start_broker_env(short_tmp)
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """One real dockerd for the whole session (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: starts dockerd, attaches loop devices, mounts filesystems")
    # The plugin socket /run/docker/plugins/vsphere.sock is one per machine: test sessions that
    # use Docker take turns (bounded wait), instead of tripping over each other's `vdvs up`.
    lock = open(DOCKER_LOCK, "w")  # noqa: SIM115 - held for the session
    deadline = time.monotonic() + DOCKER_LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                pytest.fail(f"another test session held {DOCKER_LOCK} for {DOCKER_LOCK_WAIT_S:g}s")
            time.sleep(1)
    root = Path(tempfile.mkdtemp(prefix="vdvs-dk-"))
    engine = DockerEngine(root)
    try:
        engine.start()
    except DockerUnavailable as exc:
        engine.stop()
        pytest.fail(str(exc))
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)
        lock.close()


@pytest.fixture
def vdvs_up(docker_engine: DockerEngine, short_tmp: Path) -> Iterator[VdvsUp]:
    """`vdvs up` running as a user starts it; stopped (and checked for leftovers) after the test."""
    vdvs = shutil.which("vdvs", path=os.path.dirname(sys.executable)) or shutil.which("vdvs")
    assert vdvs, "the vdvs command is not installed in this environment"
    up = VdvsUp(short_tmp, vdvs)
    up.start()
    try:
        yield up
    finally:
        docker_engine.run("rm", "-f", *docker_engine.run("ps", "-aq").out.split(), timeout=60)
        up.stop()
