"""Restarting `vdvs up` under a running container: the mount survives, and the later Unmount cleans up."""

from __future__ import annotations

import signal

import pytest

from testkit.docker_env import PLUGIN_SOCKET, DockerEngine, VdvsUp
from testkit.system import loops_under, mounts_under
from tests.docker.helpers import (
    create,
    exec_in,
    host_is_clean,
    ok,
    run_in,
    start_holder,
    status_of,
    volume_names,
    wait_released,
)

pytestmark = pytest.mark.docker


def _restart(up: VdvsUp, sig: int) -> None:
    up.stop(sig)
    assert not PLUGIN_SOCKET.exists(), "the plugin socket must be gone once vdvs has stopped"
    up.start()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_with_running_container(docker_engine: DockerEngine, vdvs_up: VdvsUp, sig: int) -> None:
    d = docker_engine
    ok(create(d, "kept@local1", "size=100mb"), "create")
    holder = start_holder(d, "kept@local1", 60)
    ok(exec_in(d, holder, "echo before > /data/b"), "write before the restart")
    loops = loops_under(vdvs_up.state)
    mounts = mounts_under(vdvs_up.mount_root)
    assert len(loops) == 1 and len(mounts) == 1

    vdvs_up.stop(sig)
    # stopping the service must not pull the filesystem from under the running container
    assert mounts_under(vdvs_up.mount_root) == mounts, "vdvs stop unmounted a volume in use"
    assert loops_under(vdvs_up.state) == loops, "vdvs stop detached a volume in use"
    still = exec_in(d, holder, "cat /data/b && echo during > /data/d && cat /data/d")
    assert ok(still, "container I/O while vdvs is down").out == "before\nduring\n"

    vdvs_up.start()
    assert mounts_under(vdvs_up.mount_root) == mounts, "restart must keep the volume mounted"
    status = status_of(d, "kept@local1")
    assert status["status"] == "attached" and status["attached to VM"] == "docker-host-1", status
    assert ok(exec_in(d, holder, "cat /data/d")).out == "during\n"
    assert d.run("volume", "rm", "kept@local1").rc != 0

    ok(d.run("rm", "-f", holder), "docker rm -f")
    wait_released(d, vdvs_up, "kept@local1")
    assert ok(run_in(d, "kept@local1", "cat /data/b /data/d")).out == "before\nduring\n"
    ok(d.run("volume", "rm", "kept@local1"), "volume rm after restart")
    assert "kept@local1" not in volume_names(d)
    host_is_clean(vdvs_up)


def test_restart_then_second_container_joins(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """After a restart the recovered mount is shared by a new container; the last one out detaches."""
    d = docker_engine
    ok(create(d, "joined@local1"), "create")
    first = start_holder(d, "joined@local1", 60)
    _restart(vdvs_up, signal.SIGTERM)

    second = start_holder(d, "joined@local1", 60)
    assert len(loops_under(vdvs_up.state)) == 1 and len(mounts_under(vdvs_up.mount_root)) == 1
    ok(exec_in(d, second, "echo two > /data/two"), "write in the new container")
    assert ok(exec_in(d, first, "cat /data/two")).out == "two\n"

    ok(d.run("rm", "-f", first), "stop the old container")
    assert status_of(d, "joined@local1")["status"] == "attached"
    assert ok(exec_in(d, second, "cat /data/two")).out == "two\n"
    ok(d.run("rm", "-f", second), "stop the new container")
    wait_released(d, vdvs_up, "joined@local1")
    ok(d.run("volume", "rm", "joined@local1"), "rm")
    host_is_clean(vdvs_up)


def test_container_stopped_while_vdvs_is_down(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """A container removed while vdvs is down: its Unmount never reaches vdvs.

    The engine gives up on the plugin after its 15 s lookup and removes the container
    anyway. vDVS rebuilt its counts from Docker's running containers at start, so the
    volume ended unmounted and removable; vdvs must not strand it mounted, attached and
    impossible to `docker volume rm` for ever.
    """
    d = docker_engine
    ok(create(d, "orphan@local1"), "create")
    holder = start_holder(d, "orphan@local1", 60)
    vdvs_up.stop(signal.SIGTERM)
    # the engine cannot reach the plugin: removing the container still succeeds (Unmount lost)
    ok(d.run("rm", "-f", holder, timeout=90), "docker rm -f while vdvs is down")
    vdvs_up.start()

    ok(run_in(d, "orphan@local1", "echo again > /data/a"), "use after the lost unmount")
    assert ok(run_in(d, "orphan@local1", "cat /data/a")).out == "again\n"
    # no container uses the volume any more: Docker agrees, so vdvs must let it go
    ok(d.run("volume", "rm", "orphan@local1"), "volume rm after the lost unmount")
    host_is_clean(vdvs_up)


def test_docker_engine_restart_releases_the_volume(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """vDVS's TestVolumeDetached: restarting dockerd stops the container, the volume ends detached."""
    d = docker_engine
    ok(create(d, "engine@local1"), "create")
    holder = start_holder(d, "engine@local1", 120)
    ok(exec_in(d, holder, "echo kept > /data/k && sync"), "write")
    assert d.proc is not None
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(60)
    d.proc = None
    d.start()
    wait_released(d, vdvs_up, "engine@local1")
    assert "engine@local1" in volume_names(d)
    ok(d.run("rm", "-f", holder), "remove the stopped container")
    assert ok(run_in(d, "engine@local1", "cat /data/k")).out == "kept\n"
    ok(d.run("volume", "rm", "engine@local1"), "rm")
    host_is_clean(vdvs_up)
