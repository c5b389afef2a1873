"""Swarm: a service with a vsphere volume mount, scaled and updated; when a task is replaced the
new task mounts the volume again and finds the data. The local backend reports Scope "local"
(a loop device does not leave this machine); the vsphere backend's "global" is asserted in
test_packaging.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
from testkit.system import loops_under, mounts_under
from tests.docker.helpers import (
    disk_files,
    exec_in,
    host_is_clean,
    inspect,
    ok,
    status_of,
    volume_names,
    wait_for,
    wait_released,
)

pytestmark = pytest.mark.docker

SERVICE = "vdvs-svc"
VOLUME = "swvol@local1"
SWARM_TIMEOUT_S = 90.0


@pytest.fixture
def swarm(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> Iterator[DockerEngine]:
    """A one-node swarm whose node advertises the vsphere driver.

    Swarm places a task that needs a volume driver only on nodes whose engine lists it (`docker
    info`: Plugins/Volume), and an unmanaged plugin is listed once the engine has loaded it: at
    start for an engine holding vsphere volumes, else on first use. `docker volume ls -f
    driver=vsphere` loads it. (Docker advertises an enabled managed plugin to swarm directly.)"""
    d = docker_engine
    ok(d.run("volume", "ls", "-f", "driver=vsphere"), "load the vsphere driver")
    assert "vsphere" in ok(d.run("info", "--format", "{{json .Plugins.Volume}}")).out
    ok(d.run("swarm", "init", "--advertise-addr", "127.0.0.1", timeout=60), "docker swarm init")
    try:
        yield d
    finally:
        d.run("service", "rm", SERVICE, timeout=60)
        left = d.run("swarm", "leave", "--force", timeout=120)
        d.run("network", "rm", "docker_gwbridge", timeout=60)  # swarm leave leaves it behind
        state = d.run("info", "--format", "{{.Swarm.LocalNodeState}}").out.strip()
        assert state == "inactive", f"the engine is still in a swarm ({state}): {left.text}"
        assert d.run("network", "ls", "-q", "--filter", "name=docker_gwbridge").out.strip() == ""


def tasks(d: DockerEngine) -> list[str]:
    """Running task containers of the service."""
    out = d.run("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={SERVICE}").out
    return sorted(out.split())


def wait_tasks(d: DockerEngine, count: int, replacing: list[str] | None = None) -> list[str]:
    """Until ``count`` task containers run (none of them one of ``replacing``) and each has written
    its hostname into the volume."""
    old = set(replacing or [])

    def settled() -> list[str]:
        running = tasks(d)
        if len(running) != count or old & set(running):
            return []
        for cid in running:
            if exec_in(d, cid, 'grep -qx "$(hostname)" /data/tasks').rc != 0:
                return []
        return running

    try:
        return wait_for(settled, SWARM_TIMEOUT_S, 0.5, what=f"{count} new task(s) of {SERVICE} using {VOLUME}")
    except AssertionError as exc:
        state = d.run("service", "ps", "--no-trunc", "--format", "{{.Name}} {{.CurrentState}} {{.Error}}", SERVICE)
        raise AssertionError(f"{exc}\nservice tasks:\n{state.text}") from None


def mount_events(up: VdvsUp) -> tuple[int, int]:
    """How often vdvs mounted (attach + mount) and released (unmount + detach) the volume."""
    mounted = released = 0
    for line in (up.root / "vdvs-up.log").read_text(errors="replace").splitlines():
        try:
            msg = str(json.loads(line).get("msg", ""))
        except ValueError:
            continue
        mounted += msg.startswith(f"mounted {VOLUME} at ")
        released += msg.startswith(f"unmounted {VOLUME} ")
    return mounted, released


def test_service_volume_follows_its_tasks(swarm: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = swarm
    ok(
        d.run(
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            SERVICE,
            "--stop-grace-period",
            "1s",
            "--mount",
            f"type=volume,source={VOLUME},target=/data,volume-driver=vsphere,"
            "volume-opt=size=200mb,volume-opt=fstype=ext4",
            IMAGE,
            "sh",
            "-c",
            "hostname >> /data/tasks; sleep 3600",
        ),
        "docker service create",
    )
    (first,) = wait_tasks(d, 1)
    volume = inspect(d, VOLUME)
    assert (volume["Driver"], volume["Scope"]) == ("vsphere", "local"), volume  # the local backend
    assert volume["Options"] == {"size": "200mb", "fstype": "ext4"}, volume
    assert status_of(d, VOLUME)["status"] == "attached"
    assert mount_events(vdvs_up) == (1, 0)

    # the task is replaced (stop-first): the old one's Unmount releases the disk, the new one
    # attaches and mounts it again and finds what the old one wrote
    ok(d.run("service", "update", "--detach", "--force", SERVICE), "docker service update --force")
    (second,) = wait_tasks(d, 1, replacing=[first])
    lines = ok(exec_in(d, second, "cat /data/tasks")).out.split()
    assert len(lines) == 2 and lines[0] == first[:12], lines
    assert mount_events(vdvs_up) == (2, 1), "the new task must mount the volume anew"

    # two tasks on this node share one mount of one attached disk
    ok(d.run("service", "scale", "--detach", f"{SERVICE}=2"), "docker service scale")
    pair = wait_tasks(d, 2)
    assert second in pair
    assert len(loops_under(vdvs_up.state)) == 1 and len(mounts_under(vdvs_up.mount_root)) == 1
    other = next(c for c in pair if c != second)
    ok(exec_in(d, other, "echo from-other > /data/shared"), "write in one task")
    assert ok(exec_in(d, second, "cat /data/shared")).out == "from-other\n"

    # a rolling update of both tasks (one at a time): the volume stays mounted throughout
    ok(d.run("service", "update", "--detach", "--force", SERVICE), "rolling update")
    renewed = wait_tasks(d, 2, replacing=pair)
    assert ok(exec_in(d, renewed[0], "cat /data/shared")).out == "from-other\n"
    assert len(ok(exec_in(d, renewed[1], "cat /data/tasks")).out.split()) == 5
    assert status_of(d, VOLUME)["status"] == "attached"

    # removing the service does not remove its volume (as Docker does); it ends detached
    ok(d.run("service", "rm", SERVICE), "docker service rm")
    wait_for(lambda: not tasks(d) and not d.run("ps", "-aq").out.strip(), SWARM_TIMEOUT_S, what="tasks to go")
    wait_released(d, vdvs_up, VOLUME)
    assert VOLUME in volume_names(d)
    ok(d.run("volume", "rm", VOLUME), "docker volume rm")
    assert disk_files(vdvs_up) == []
    host_is_clean(vdvs_up)
