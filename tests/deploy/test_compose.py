"""docker-compose (Debian's 1.29, compose v1) with `driver: vsphere` volumes and driver_opts:
up, write, down, up again (data kept), down -v (volumes gone from Docker and the datastore); and a
volume that could never be formatted, refused at `up`'s volume create."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testkit.docker_env import IMAGE, DockerEngine, Result, VdvsUp
from tests.docker.helpers import (
    disk_files,
    exec_in,
    host_is_clean,
    ok,
    status_of,
    volume_names,
    wait_for,
    wait_released,
)
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.store import SqliteStore

pytestmark = pytest.mark.docker

PROJECT = "vdvsct"
DATA = f"{PROJECT}_data"  # compose prefixes the project name
LOGS = "ctlogs@local1"  # an explicit `name:`, in vdvs's name@datastore form
COMPOSE_FILE = f"""\
version: "3.7"
services:
  app:
    image: {IMAGE}
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "date +%s%N >> /data/runs; echo ok > /logs/ok; sleep 3600"]
    volumes:
      - data:/data
      - logs:/logs
volumes:
  data:
    driver: vsphere
    driver_opts:
      size: 200mb
      fstype: ext4
  logs:
    name: "{LOGS}"
    driver: vsphere
    driver_opts:
      size: 400mb
      fstype: xfs
"""


def compose_binary() -> str:
    found = shutil.which("docker-compose", path="/usr/bin:/usr/local/bin")
    if found is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose; ./dev test installs it)")
    return found


def compose(d: DockerEngine, project_dir: Path, *args: str, timeout: float = 180.0, project: str = PROJECT) -> Result:
    argv = [compose_binary(), "--no-ansi", "-p", project, "-f", str(project_dir / "docker-compose.yml"), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=d.env(), timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return Result(124, "", f"docker-compose {' '.join(args)} timed out after {timeout}s: {exc}")
    return Result(done.returncode, done.stdout, done.stderr)


def app_container(d: DockerEngine, project_dir: Path) -> str:
    """The running app container, once its command has written to both volumes."""

    def ready() -> str:
        cid = compose(d, project_dir, "ps", "-q", "app").out.strip()
        if cid and exec_in(d, cid, "test -s /data/runs && test -s /logs/ok").rc == 0:
            return cid
        return ""

    return wait_for(ready, timeout=60, what="the compose service to write to its volumes")


def test_compose_up_down_up_down_v(docker_engine: DockerEngine, vdvs_up: VdvsUp, short_tmp: Path) -> None:
    d = docker_engine
    project = short_tmp / "compose"
    project.mkdir()
    (project / "docker-compose.yml").write_text(COMPOSE_FILE)
    try:
        ok(compose(d, project, "up", "-d"), "docker-compose up -d")
        first = app_container(d, project)
        # driver_opts reached the broker: size and filesystem per volume
        data, logs = status_of(d, DATA), status_of(d, LOGS)
        assert (data["capacity"]["size"], data["fstype"], data["status"]) == ("200MB", "ext4", "attached"), data
        assert (logs["capacity"]["size"], logs["fstype"], logs["status"]) == ("400MB", "xfs", "attached"), logs
        mounts = ok(exec_in(d, first, "mount")).out
        assert any(" /data type ext4 " in line for line in mounts.splitlines()), mounts
        assert any(" /logs type xfs " in line for line in mounts.splitlines()), mounts
        assert len(ok(exec_in(d, first, "cat /data/runs")).out.split()) == 1

        ok(compose(d, project, "down"), "docker-compose down")
        assert d.run("inspect", first).rc != 0, "down removes the container"
        # `docker volume ls` shows the names List gives: short names qualified with the datastore
        assert {f"{DATA}@local1", LOGS} <= set(volume_names(d)), "down (without -v) must keep the volumes"
        for name in (DATA, LOGS):
            wait_released(d, vdvs_up, name)

        ok(compose(d, project, "up", "-d"), "docker-compose up -d, again")
        second = app_container(d, project)
        assert second != first
        runs = ok(exec_in(d, second, "cat /data/runs")).out.split()
        assert len(runs) == 2, f"the first run's data must still be there: {runs}"
        assert ok(exec_in(d, second, "cat /logs/ok")).out == "ok\n"

        ok(compose(d, project, "down", "-v"), "docker-compose down -v")
        left = [n for n in volume_names(d, driver=None) if n.startswith((DATA, LOGS))]
        assert left == [], f"down -v must remove the volumes: {left}"
        assert disk_files(vdvs_up) == [], "down -v must remove the disks from the datastore"
        host_is_clean(vdvs_up)
    finally:
        compose(d, project, "down", "-v", "-t", "1", timeout=120)


TOO_SMALL_PROJECT = "vdvssmall"
TOO_SMALL_FILE = f"""\
version: "3.7"
services:
  app:
    image: {IMAGE}
    network_mode: none
    command: ["sh", "-c", "echo never runs > /data/x"]
    volumes:
      - tiny:/data
volumes:
  tiny:
    driver: vsphere
    driver_opts:
      size: 150mb
      fstype: xfs
"""


def test_compose_up_with_a_too_small_xfs_volume_fails_at_the_create_and_leaves_nothing(
    docker_engine: DockerEngine, vdvs_up: VdvsUp, short_tmp: Path
) -> None:
    """The mistake is named where it was made, at the volume create of `up`, before any container."""
    d = docker_engine
    project = short_tmp / "small"
    project.mkdir()
    (project / "docker-compose.yml").write_text(TOO_SMALL_FILE)
    try:
        up = compose(d, project, "up", "-d", project=TOO_SMALL_PROJECT)
        assert up.rc != 0, up.text
        reason = "Volume size 150MB is below the 300MB minimum of xfs"
        [line] = [line for line in up.text.splitlines() if reason in line]
        assert line.endswith(reason) and f"{TOO_SMALL_PROJECT}_tiny" in line, up.text
        assert "Creating volume" in up.text  # it failed at the volume create...
        containers = d.run("ps", "-aq", "--filter", f"label=com.docker.compose.project={TOO_SMALL_PROJECT}")
        assert ok(containers).out.strip() == "", "...before any container was made"
        assert [n for n in volume_names(d, driver=None) if TOO_SMALL_PROJECT in n] == []
        assert disk_files(vdvs_up) == []
        store = SqliteStore(vdvs_up.state / "vdvs.db")
        try:
            assert store.list_volumes(states=tuple(VolumeState)) == []
        finally:
            store.close()
        host_is_clean(vdvs_up)
    finally:
        compose(d, project, "down", "-v", "-t", "1", timeout=120, project=TOO_SMALL_PROJECT)
