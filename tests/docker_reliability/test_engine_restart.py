"""Restart dockerd (SIGTERM, then start on the same data root) while containers hold vdvs volumes.

vDVS's refcount_test / restart_test (TestRecoverMountsAfterRestart, TestVolumeDetached):
- `--restart=always` containers come back with their volumes mounted, see the data written
  before and can write more; two of them on one volume share one attachment; the state file
  holds exactly the new mount IDs Docker handed out; removing them detaches everything;
- containers without a restart policy stay stopped: their volumes end unmounted and detached
  (one volume is held by one container of each kind: it ends held by the `always` one only),
  and they can be mounted again with their data.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
from tests.docker_reliability.observe import (
    check_consistent,
    db_attachments,
    disk_loops,
    docker_holders,
    ok,
    parallel,
    restart_engine,
    running_ids,
    state_holders,
    wait_clean,
)

pytestmark = pytest.mark.docker

VM_NAME = "docker-host-1"
# container name -> (volume, restart policy)
CONTAINERS = {
    "er-a1": ("era@local1", "always"),
    "er-b1": ("erb@local1", "always"),
    "er-b2": ("erb@local1", "always"),  # two always-containers share erb
    "er-m1": ("erm@local1", "always"),
    "er-m2": ("erm@local1", "no"),  # erm: one of each kind
    "er-n1": ("ern@local1", "no"),
    "er-o1": ("ero@local1", "no"),
}
VOLUMES = sorted({v for v, _ in CONTAINERS.values()})
# sh as PID 1 ignores SIGTERM unless it traps it: trap it so stopping takes a second, not 10
SCRIPT = "trap 'exit 0' TERM; while :; do sleep 1; done"


def _paths(up: VdvsUp) -> tuple[Path, Path, Path, Path]:
    return up.mount_root, up.state / "plugin" / "mounts.json", up.state / "datastores", up.state / "vdvs.db"


def _expected_holders(policy: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for volume, restart in CONTAINERS.values():
        if policy is None or restart == policy:
            counts[volume] = counts.get(volume, 0) + 1
    return counts


def _settled(d: DockerEngine, up: VdvsUp, expected: dict[str, int], timeout: float = 60.0) -> dict[str, set[str]]:
    """Wait until Docker holds ``expected`` and the plugin records exactly those holders, consistently."""
    deadline = time.monotonic() + timeout
    while True:
        docker = docker_holders(d)
        counts = {v: len(ids) for v, ids in docker.items()}
        try:
            assert counts == expected, f"Docker holds {counts}, expected {expected}"
            state = check_consistent(*_paths(up), vm_name=VM_NAME)
            assert state == docker, f"state file {state} != Docker's mount IDs {docker}"
            return docker
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_engine_restart_with_restart_always_and_plain_containers(docker_engine: DockerEngine, up: VdvsUp) -> None:
    d = docker_engine
    started = time.monotonic()
    for volume in VOLUMES:
        ok(d.run("volume", "create", "-d", "vsphere", volume), f"create {volume}")

    def run(name: str) -> None:
        volume, restart = CONTAINERS[name]
        args = ["run", "-d", "--name", name, f"--restart={restart}", "--stop-timeout", "5", "-v", f"{volume}:/data"]
        ok(d.run(*args, IMAGE, "sh", "-c", SCRIPT), f"run {name}")
        ok(d.run("exec", name, "sh", "-c", f"echo {name} >> /data/before && sync"), f"write in {name}")

    parallel(run, CONTAINERS)
    before = _settled(d, up, _expected_holders())
    assert len(disk_loops(up.state / "datastores")) == len(VOLUMES)

    restarted = time.monotonic()
    restart_engine(d)
    always = _expected_holders("always")
    after = _settled(d, up, always)
    restart_s = time.monotonic() - restarted
    for volume in always:
        assert after[volume].isdisjoint(before[volume]), "the engine mounts again with new IDs"
    assert set(state_holders(_paths(up)[1])) == set(always), "volumes of stopped containers must be released"
    loops = disk_loops(up.state / "datastores")
    rows = db_attachments(up.state / "vdvs.db")
    in_use = sorted(n for n in loops if rows.get(n, ("", ""))[1] != "idle")  # the others stay attached, idle
    assert in_use == sorted(v.split("@")[0] for v in always), f"attached: {loops}, {rows}"
    assert all(rows[n][1] == "idle" for n in loops if n not in in_use), rows
    assert {n: a for n, a in rows.items() if a[1] != "idle"} == {v.split("@")[0]: (VM_NAME, "attached") for v in always}
    running = set(d.run("ps", "--format", "{{.Names}}").out.split())
    assert running == {n for n, (_, r) in CONTAINERS.items() if r == "always"}, running

    # the always-containers see what was written before the restart, and can write more
    for name, (volume, restart) in CONTAINERS.items():
        if restart != "always":
            continue
        writers = sorted(n for n, (v, _) in CONTAINERS.items() if v == volume)
        seen = ok(d.run("exec", name, "sh", "-c", "cat /data/before; echo after > /data/after-" + name), "exec")
        assert sorted(seen.out.split()) == writers, f"{name} reads {seen.out!r}"
    ok(d.run("exec", "er-b2", "cat", "/data/after-er-b1"), "the two sharers see each other's writes")

    # the stopped plain containers' volumes are usable again, with their data
    plain = [n for n, (_, r) in CONTAINERS.items() if r == "no"]
    ok(d.run("rm", *plain), "remove the stopped containers")
    for volume in ("ern@local1", "ero@local1"):
        seen = ok(d.run("run", "--rm", "-v", f"{volume}:/data", IMAGE, "cat", "/data/before"), f"read {volume}")
        assert seen.out.split() == [n for n, (v, _) in CONTAINERS.items() if v == volume]
    _settled(d, up, always)

    # removing the always-containers releases everything (kept attached, idle, until removed)
    ok(d.run("rm", "-f", *running_ids(d)), "remove the restarted containers")
    wait_clean(*_paths(up), timeout=30)
    for volume in VOLUMES:
        ok(d.run("volume", "rm", volume), f"volume rm {volume}")
    print(f"dockerd restart settled in {restart_s:.1f}s; test {time.monotonic() - started:.1f}s")
