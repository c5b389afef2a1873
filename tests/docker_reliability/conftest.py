"""Fixtures of the reliability tests: `vdvs up` with full teardown, and broker + plugin as two processes."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker_reliability.observe import remove_all_containers
from tests.docker_reliability.split import SplitVdvs


def _remove_volumes(d: DockerEngine) -> None:
    """Forget the test's volumes in the session's engine (its plugin and broker go with the test),
    and any `local` volume Docker made in place of a vsphere one while the broker was down."""
    names = d.run("volume", "ls", "-q").out.split()
    if names:
        d.run("volume", "rm", "-f", *names, timeout=120)


@pytest.fixture
def up(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> Iterator[VdvsUp]:
    """`vdvs up`; afterwards every container and vsphere volume is removed while it still runs."""
    try:
        yield vdvs_up
    finally:
        if vdvs_up.proc is None:
            vdvs_up.start()  # a test that failed while it was down
        remove_all_containers(docker_engine)
        _remove_volumes(docker_engine)


@pytest.fixture
def split_vdvs(docker_engine: DockerEngine, short_tmp: Path) -> Iterator[SplitVdvs]:
    """`vdvs broker` and `vdvs plugin` as separate processes (state under a temp dir)."""
    vdvs = shutil.which("vdvs", path=os.path.dirname(sys.executable)) or shutil.which("vdvs")
    assert vdvs, "the vdvs command is not installed in this environment"
    env = SplitVdvs(short_tmp, vdvs)
    try:
        env.setup()
        yield env
    finally:
        for what in ("broker", "plugin"):  # shown by pytest if the test failed (retry chatter left out)
            lines = [line for line in env.log(what).splitlines() if "retrying in" not in line]
            print(f"--- last lines of the {what} log:\n" + "\n".join(lines[-15:]))
        try:
            env.resume()
            if env.plugin is not None:
                remove_all_containers(docker_engine)
                _remove_volumes(docker_engine)
        finally:
            env.close()
