"""Kill `vdvs up` (SIGKILL) under 50 mounted volumes on a real Docker engine, then start it again.

Proves: the state file holds exactly the mount IDs Docker holds (one per container, two on the
shared volumes) before and after the kill; the restart attaches nothing twice (one loop device
per volume, one attachment per volume in the broker's DB); containers keep their data; a
container started after the restart joins the recovered mount; and removing every container
unmounts and detaches every volume, leaving no mount, loop device, record or DB attachment.
"""

from __future__ import annotations

import signal
import time

import pytest

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
from tests.docker_reliability.observe import (
    check_consistent,
    db_attachments,
    disk_loops,
    docker_holders,
    mounted,
    ok,
    parallel,
    state_holders,
    wait_clean,
)

pytestmark = pytest.mark.docker

VOLUMES = [f"pk{i:02d}@local1" for i in range(50)]
SHARED = VOLUMES[:4]  # each of these is held by two containers
VM_NAME = "docker-host-1"  # what the `vdvs_up` fixture enrolls this host as


def _holder(d: DockerEngine, volume: str, tag: str) -> str:
    script = f"echo {tag} >> /data/who && exec sleep 600"
    result = ok(d.run("run", "-d", "--rm", "-v", f"{volume}:/data", IMAGE, "sh", "-c", script), f"run on {volume}")
    return result.out.strip()


def _check_exact(d: DockerEngine, up: VdvsUp, expected: dict[str, int]) -> dict[str, set[str]]:
    """The plugin's holders are exactly Docker's, with ``expected`` holders per volume; all consistent."""
    docker = docker_holders(d)
    assert {v: len(ids) for v, ids in docker.items()} == expected, "Docker does not hold what the test started"
    state = check_consistent(
        up.mount_root, up.state / "plugin" / "mounts.json", up.state / "datastores", up.state / "vdvs.db"
    )
    assert state == docker, "the state file's holders differ from the mount IDs Docker holds"
    loops = disk_loops(up.state / "datastores")
    idle = {n for n, (_, st) in db_attachments(up.state / "vdvs.db").items() if st == "idle"}
    in_use = sorted(n for n in loops if n not in idle)
    assert in_use == sorted(v.split("@")[0] for v in expected), "one attachment per mounted volume"
    assert all(len(devs) == 1 for devs in loops.values())
    assert sorted(mounted(up.mount_root)) == sorted(expected)
    db = db_attachments(up.state / "vdvs.db")
    assert db == {v.split("@")[0]: (VM_NAME, "attached") for v in expected}, "the DB shows one holder each"
    return docker


def test_plugin_killed_under_50_mounted_volumes(docker_engine: DockerEngine, up: VdvsUp) -> None:
    d = docker_engine
    started = time.monotonic()
    parallel(lambda v: ok(d.run("volume", "create", "-d", "vsphere", v), f"create {v}"), VOLUMES)
    jobs = [(v, "a") for v in VOLUMES] + [(v, "b") for v in SHARED]
    containers = dict(zip(jobs, parallel(lambda job: _holder(d, *job), jobs), strict=True))
    expected = {v: 2 if v in SHARED else 1 for v in VOLUMES}
    before = _check_exact(d, up, expected)
    loops_before = disk_loops(up.state / "datastores")
    setup_s = time.monotonic() - started

    up.stop(signal.SIGKILL)
    assert mounted(up.mount_root).keys() == set(VOLUMES), "a killed plugin must leave the mounts in place"
    assert disk_loops(up.state / "datastores") == loops_before
    up.start()

    after = _check_exact(d, up, expected)
    assert after == before, "the restart changed the recorded holders"
    assert disk_loops(up.state / "datastores") == loops_before, "the restart re-attached volumes"
    state = state_holders(up.state / "plugin" / "mounts.json")
    assert set(state) == set(VOLUMES)

    # every container still reads and writes its volume; the shared ones see each other's writes
    def io(job: tuple[str, str]) -> str:
        return ok(d.run("exec", containers[job], "sh", "-c", "echo after >> /data/who && cat /data/who"), "exec").out

    seen = dict(zip(jobs, parallel(io, jobs), strict=True))
    for (volume, tag), out in seen.items():
        assert tag in out.split() and "after" in out.split(), f"{volume}/{tag}: {out!r}"
    for volume in SHARED:
        assert {"a", "b"} <= set(seen[(volume, "b")].split()), seen[(volume, "b")]

    # a container started after the restart joins the recovered mount: no second attach
    joiners = [VOLUMES[10], VOLUMES[11]]
    for volume in joiners:
        containers[(volume, "c")] = _holder(d, volume, "c")
        expected[volume] += 1
    _check_exact(d, up, expected)
    assert disk_loops(up.state / "datastores") == loops_before

    # stop half with `docker stop` (then --rm removes them), force-remove the rest: all Unmounts
    ids = list(containers.values())
    half = len(ids) // 2
    batches = [["stop", "-t", "1", *ids[i : i + 7]] for i in range(0, half, 7)]
    batches += [["rm", "-f", *ids[i : i + 7]] for i in range(half, len(ids), 7)]
    parallel(lambda args: ok(d.run(*args, timeout=120), f"docker {args[0]}"), batches)
    wait_clean(
        up.mount_root, up.state / "plugin" / "mounts.json", up.state / "datastores", up.state / "vdvs.db", timeout=60
    )
    assert docker_holders(d) == {}
    parallel(lambda v: ok(d.run("volume", "rm", v), f"volume rm {v}"), VOLUMES)
    print(f"50 volumes, {len(jobs)} containers: set up in {setup_s:.1f}s, total {time.monotonic() - started:.1f}s")
