"""`vdvs volume move` seen from Docker: a container writes, its volume is moved to another datastore
by the admin, and a container on the moved volume reads the data back; `docker volume ls` and
`vdvs volume ls` show it on the new datastore."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import create, disk_files, host_is_clean, ok, run_in, status_of, volume_names, wait_released
from vdvs.broker.config import BrokerConfig
from vdvs.broker.setup import init_config

pytestmark = pytest.mark.docker


def two_datastore_up(root: Path) -> VdvsUp:
    """`vdvs up` on a state dir whose broker.toml (written first, as an admin would) has local1 and local2."""
    vdvs = shutil.which("vdvs", path=os.path.dirname(sys.executable)) or shutil.which("vdvs")
    assert vdvs, "the vdvs command is not installed in this environment"
    up = VdvsUp(root, vdvs)
    config = BrokerConfig.for_state_dir(up.state, up.admin_socket)
    config.local_datastores["local2"] = up.state / "datastores" / "local2"
    init_config(config, up.state / "broker.toml")
    return up


def vdvs(up: VdvsUp, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [up.vdvs, *args, "--admin-socket", str(up.admin_socket)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_write_move_read(docker_engine: DockerEngine, short_tmp: Path) -> None:
    d = docker_engine
    up = two_datastore_up(short_tmp)
    up.start()
    try:
        ok(create(d, "moving@local1", "size=120mb", "fstype=ext4"), "create")
        ok(run_in(d, "moving@local1", "echo kept-across-the-move > /data/f && sync"), "write")
        wait_released(d, up, "moving@local1")  # idle on this host: the move detaches it first
        created = status_of(d, "moving@local1")["created"]

        moved = vdvs(up, "volume", "move", "--volume", "moving@local1", "--to", "local2")
        assert (moved.returncode, moved.stdout, moved.stderr) == (
            0,
            "Successfully moved volume moving@local1 to moving@local2\n",
            "",
        )
        assert "moving@local2" in volume_names(d) and "moving@local1" not in volume_names(d)
        status = status_of(d, "moving@local2")
        assert (status["datastore"], status["created"], status["status"]) == ("local2", created, "detached")
        assert [f for f in disk_files(up, "local1") if "moving" in f] == []
        assert sorted(Path(f).name for f in disk_files(up, "local2")) == ["moving.vmdk", "moving.vmfd"]
        listed = vdvs(up, "volume", "ls", "-c", "volume,datastore")
        assert listed.returncode == 0 and [line.split() for line in listed.stdout.splitlines()[2:]] == [
            ["moving", "local2"]
        ], listed.stdout

        assert ok(run_in(d, "moving@local2", "cat /data/f"), "read").out == "kept-across-the-move\n"
        wait_released(d, up, "moving@local2")
        again = vdvs(up, "volume", "move", "--volume", "moving@local1", "--to", "local2")
        assert (again.returncode, again.stderr.strip()) == (
            2,
            "ERROR:Volume moving@local1 not found (file: vmgroup _DEFAULT)",
        )
        ok(d.run("volume", "rm", "moving@local2"), "rm")
        host_is_clean(up)
    finally:
        d.run("rm", "-f", *d.run("ps", "-aq").out.split(), timeout=60)
        up.stop()
