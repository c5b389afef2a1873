"""Sharing: two containers on one volume at once, and vsphere volumes next to `local` ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
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


def test_two_containers_share_one_volume(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "shared@local1", "size=120mb"), "create")
    first = start_holder(d, "shared@local1", 60)
    second = start_holder(d, "shared@local1", 60)
    assert len(loops_under(vdvs_up.state)) == 1, "one attach serves both containers"
    assert len(mounts_under(vdvs_up.mount_root)) == 1

    ok(exec_in(d, first, "echo from-first > /data/f"), "write in first")
    assert ok(exec_in(d, second, "cat /data/f")).out == "from-first\n"
    ok(exec_in(d, second, "echo from-second > /data/s"), "write in second")
    assert ok(exec_in(d, first, "cat /data/s")).out == "from-second\n"

    ok(d.run("rm", "-f", first), "stop the first")
    # the second still has a working mount after the first let go
    assert ok(exec_in(d, second, "cat /data/f /data/s")).out == "from-first\nfrom-second\n"
    ok(exec_in(d, second, "echo after > /data/a && sync"), "write after the first stopped")
    assert status_of(d, "shared@local1")["status"] == "attached"
    assert len(mounts_under(vdvs_up.mount_root)) == 1

    assert d.run("volume", "rm", "shared@local1").rc != 0
    ok(d.run("rm", "-f", second), "stop the second")
    wait_released(d, vdvs_up, "shared@local1")

    # data written by both survives the last unmount
    seen = ok(run_in(d, "shared@local1", "cat /data/f /data/s /data/a"), "read back")
    assert seen.out == "from-first\nfrom-second\nafter\n"
    ok(d.run("volume", "rm", "shared@local1"), "rm")
    host_is_clean(vdvs_up)


def test_run_with_two_vsphere_volumes(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "va@local1"), "create a")
    ok(create(d, "vb@local1"), "create b")
    both = d.run(
        "run",
        "--rm",
        "-v",
        "va@local1:/a",
        "-v",
        "vb@local1:/b",
        IMAGE,
        "sh",
        "-c",
        "echo A > /a/f && echo B > /b/f && cat /a/f /b/f",
    )
    assert ok(both, "run with two volumes").out == "A\nB\n"
    host_is_clean(vdvs_up)
    assert ok(run_in(d, "vb@local1", "cat /data/f")).out == "B\n"
    ok(d.run("volume", "rm", "va@local1", "vb@local1"), "rm both")
    host_is_clean(vdvs_up)


def test_local_driver_volume_coexists(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """The engine asks every driver about names it cannot place; vdvs must say 'not mine'."""
    d = docker_engine
    ok(create(d, "mine@local1"), "vsphere create")
    try:
        ok(d.run("volume", "create", "localvol"), "local create")
        # a lookup without a driver reaches vdvs's Get too
        local = ok(d.run("volume", "inspect", "--format", "{{.Driver}}", "localvol")).out.strip()
        assert local == "local"

        ok(d.run("run", "--rm", "-v", "localvol:/d", IMAGE, "sh", "-c", "echo loc > /d/f"), "write local")
        read = ok(d.run("run", "--rm", "-v", "localvol:/d", IMAGE, "cat", "/d/f"), "read local")
        assert read.out == "loc\n"

        # an unknown name is not claimed by vdvs either
        missing = d.run("volume", "inspect", "nosuchvolume")
        assert missing.rc != 0 and "no such volume" in missing.err.lower(), missing.text

        # both kinds in one container
        mixed = d.run(
            "run",
            "--rm",
            "-v",
            "localvol:/d",
            "-v",
            "mine@local1:/v",
            IMAGE,
            "sh",
            "-c",
            "cat /d/f > /v/copied && cat /v/copied",
        )
        assert ok(mixed, "mixed run").out == "loc\n"

        every = volume_names(d, driver=None)
        assert "localvol" in every and "mine@local1" in every, every
        assert "localvol" not in volume_names(d), "vdvs must not list another driver's volume"
        ok(d.run("volume", "rm", "localvol"), "rm local")
        assert "localvol" not in volume_names(d, driver=None)
    finally:
        d.run("volume", "rm", "-f", "localvol")
    assert ok(run_in(d, "mine@local1", "cat /data/copied")).out == "loc\n"
    ok(d.run("volume", "rm", "mine@local1"), "rm vsphere")
    host_is_clean(vdvs_up)


def test_parallel_first_mounts_of_one_volume(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """Four containers race the first mount (attach + mkfs + mount) of one blank volume."""
    d = docker_engine
    ok(create(d, "race@local1"), "create")
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda i: run_in(d, "race@local1", f"echo {i} > /data/f{i}; sleep 1"), range(4)))
    for result in runs:
        ok(result, "racing container")
    wait_released(d, vdvs_up, "race@local1")
    seen = ok(run_in(d, "race@local1", "cat /data/f0 /data/f1 /data/f2 /data/f3"), "read back").out
    assert seen.split() == ["0", "1", "2", "3"], "a racing mount reformatted the volume"
    ok(d.run("volume", "rm", "race@local1"), "rm")
    host_is_clean(vdvs_up)


def test_parallel_creates_and_removes(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    names = [f"par{i}@local1" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        for result in pool.map(lambda n: create(d, n, "size=50mb"), names):
            ok(result, "parallel create")
    assert sorted(volume_names(d)) == sorted(names)
    with ThreadPoolExecutor(8) as pool:
        for result in pool.map(lambda n: d.run("volume", "rm", n), names):
            ok(result, "parallel rm")
    assert volume_names(d) == []
