"""The broker unreachable (SIGKILL) or stalled (SIGSTOP) while Docker mounts or unmounts a vdvs volume.

`vdvs broker` and `vdvs plugin` run as separate processes (fixture ``split_vdvs``); the plugin's
broker deadlines are a few seconds, far inside Docker's own plugin timeouts, and every wait
here is bounded. A gate in front of the broker's ``losetup`` lets a test hit the broker in the
middle of an attach or a detach. In every case:
- Docker gets an error naming the broker within ERROR_BOUND_S (or, for a short stall, success);
- the plugin leaves nothing mounted-but-detached nor attached-but-unknown: /proc mounts, loop
  devices, its state file and (once the broker is back) the broker's DB agree;
- once the broker is back the volume works again, keeps its data, and cleans up fully.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.docker_env import IMAGE, DockerEngine, Result
from tests.docker_reliability.observe import (
    check_consistent,
    db_attachments,
    disk_loops,
    docker_holders,
    mounted,
    ok,
    state_holders,
    wait_clean,
)
from tests.docker_reliability.split import SplitVdvs

pytestmark = pytest.mark.docker

ERROR_BOUND_S = 30.0  # Docker waits minutes for a plugin's Mount; vdvs must answer in seconds
SETTLE_S = 15.0


def _timed(d: DockerEngine, *args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = d.run(*args, timeout=ERROR_BOUND_S + 30)
    return result, time.monotonic() - started


def _run(volume: str, script: str) -> list[str]:
    return ["run", "--rm", "-v", f"{volume}:/data", IMAGE, "sh", "-c", script]


def _consistent(e: SplitVdvs, with_db: bool) -> dict[str, set[str]]:
    db = e.db if with_db else None
    return check_consistent(e.mount_root, e.state_file, e.datastores, db, e.vm_name if with_db else "")


def _eventually(check: Callable[[], object], timeout: float = SETTLE_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _claim_settled(e: SplitVdvs, name: str) -> None:
    """Give the continued broker time to finish the operation it was stopped in (bounded)."""
    deadline = time.monotonic() + SETTLE_S
    while db_attachments(e.db).get(name, ("", ""))[1] in ("attaching", "detaching"):
        if time.monotonic() > deadline:
            return  # left in between: the checks that follow say what that leaves
        time.sleep(0.2)
    time.sleep(0.5)  # and for its reply to reach the plugin


def _untouched(e: SplitVdvs) -> None:
    """Nothing of the failed mount is left on the host."""
    assert mounted(e.mount_root) == {}, "a failed Mount left a filesystem mounted"
    # an attach the broker may still finish is recorded as a pending release (no holder), which the
    # plugin retries until the broker answers; a holder would keep the volume mounted for good
    assert all(not holders for holders in state_holders(e.state_file).values()), "a failed Mount left a holder"
    assert disk_loops(e.datastores) == {}, "a failed Mount left the disk attached"
    assert e.plugin is not None and e.plugin.poll() is None, "the plugin must survive a broker outage"


def _works_and_cleans_up(d: DockerEngine, e: SplitVdvs, volume: str, expect: str) -> None:
    seen = ok(d.run(*_run(volume, "cat /data/f; echo again > /data/g && cat /data/g")), f"use {volume} again")
    assert seen.out == f"{expect}again\n", seen.out
    wait_clean(e.mount_root, e.state_file, e.datastores, e.db, timeout=SETTLE_S)
    ok(d.run("volume", "rm", volume), f"volume rm {volume}")
    wait_clean(e.mount_root, e.state_file, e.datastores, e.db, timeout=SETTLE_S)


def _create_with_data(d: DockerEngine, volume: str, data: str = "before") -> None:
    ok(d.run("volume", "create", "-d", "vsphere", volume), f"create {volume}")
    ok(d.run(*_run(volume, f"echo {data} > /data/f")), f"write to {volume}")


# ------------------------------------------------------------------------------------------ Mount
def test_broker_killed_in_the_middle_of_an_attach(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "ka@local1")
    e.hold("attach")
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(_timed, d, *_run("ka@local1", "cat /data/f"))
        e.wait_entered("attach")
        e.kill_broker()  # with its losetup: the disk is never attached
        e.release("attach")
        result, took = run.result(ERROR_BOUND_S + 30)
    assert result.rc != 0, f"docker run succeeded with the broker dead: {result.text}"
    assert "broker" in result.text and "unreachable" in result.text, result.text
    assert took < ERROR_BOUND_S, f"Docker waited {took:.0f}s for the error"
    _untouched(e)

    e.start_broker()  # its start-up reconciliation undoes the interrupted attach claim
    _eventually(lambda: _consistent(e, with_db=True))
    assert db_attachments(e.db) == {}
    _works_and_cleans_up(d, e, "ka@local1", "before\n")


def test_broker_stalled_in_the_middle_of_an_attach(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "sa@local1")
    e.hold("attach")
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(_timed, d, *_run("sa@local1", "cat /data/f"))
        e.wait_entered("attach")
        e.signal_broker(signal.SIGSTOP)
        e.release("attach")  # the stopped losetup goes on when the broker is continued
        result, took = run.result(ERROR_BOUND_S + 30)
    assert result.rc != 0, f"docker run succeeded with the broker stopped: {result.text}"
    assert "broker" in result.text, result.text
    assert took < ERROR_BOUND_S, f"Docker waited {took:.0f}s for the error"
    _untouched(e)

    e.signal_broker(signal.SIGCONT)  # the broker now finishes the attach the plugin gave up on
    _claim_settled(e, "sa")
    # the plugin told Docker the mount failed: the disk must not stay attached behind its back
    _eventually(lambda: _consistent(e, with_db=True))
    wait_clean(e.mount_root, e.state_file, e.datastores, e.db, timeout=SETTLE_S)
    _works_and_cleans_up(d, e, "sa@local1", "before\n")


def test_run_while_the_broker_is_down(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    """`docker run -v` with the broker already down: an error naming it, never a stand-in volume."""
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "da@local1", "precious")
    _create_with_data(d, "dshort", "precious")  # a short name, on the vmgroup's default datastore
    e.kill_broker()
    outcomes = {v: _timed(d, *_run(v, "cat /data/f; echo lost > /data/f")) for v in ("da@local1", "dshort")}
    local = d.run("volume", "ls", "-q", "--filter", "driver=local").out.split()
    stand_ins = [v for v in local if v in outcomes]
    _consistent(e, with_db=False)
    assert mounted(e.mount_root) == {} and disk_loops(e.datastores) == {}
    e.start_broker()
    after = {v: d.run(*_run(v, "cat /data/f")).text for v in ("da@local1", "dshort")}

    problems = []
    for volume, (result, took) in outcomes.items():
        if result.rc == 0:
            problems.append(f"docker run -v {volume} SUCCEEDED with the broker down: {result.text!r}")
        elif "broker" not in result.text:
            problems.append(f"docker run -v {volume} failed without naming the broker: {result.text!r}")
        if took > ERROR_BOUND_S:
            problems.append(f"docker run -v {volume} took {took:.0f}s")
    if stand_ins:
        problems.append(f"Docker created local volume(s) {stand_ins} in place of the vsphere ones")
    for volume, text in after.items():
        if text != "precious":
            problems.append(f"after the broker came back, {volume} reads {text!r} instead of 'precious'")
    assert not problems, "\n".join(problems)
    for volume in ("da@local1", "dshort"):
        ok(d.run("volume", "rm", volume), f"volume rm {volume}")
    wait_clean(e.mount_root, e.state_file, e.datastores, e.db)


def test_short_broker_stall_is_absorbed(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    """A broker that stalls for less than the plugin's deadlines only slows `docker run` down."""
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "st@local1")
    e.signal_broker(signal.SIGSTOP)
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(_timed, d, *_run("st@local1", "cat /data/f"))
        time.sleep(1.0)
        e.signal_broker(signal.SIGCONT)
        result, took = run.result(ERROR_BOUND_S + 30)
    assert ok(result, "docker run across a 1 s broker stall").out == "before\n"
    assert took < ERROR_BOUND_S
    _consistent(e, with_db=True)
    _works_and_cleans_up(d, e, "st@local1", "before\n")


# ---------------------------------------------------------------------------------------- Unmount
def _holder(d: DockerEngine, volume: str) -> str:
    return ok(d.run("run", "-d", "-v", f"{volume}:/data", IMAGE, "sleep", "600"), f"run on {volume}").out.strip()


def test_container_exits_while_the_broker_is_down(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "ua@local1")
    container = _holder(d, "ua@local1")
    assert state_holders(e.state_file) == docker_holders(d)
    e.kill_broker()
    result, took = _timed(d, "rm", "-f", container)
    assert took < ERROR_BOUND_S, f"docker rm -f took {took:.0f}s"
    ok(result, "docker rm -f with the broker down")  # Docker removes the container regardless

    # the container is gone: the plugin must not count it as a holder, nor keep its filesystem
    # mounted (the disk may stay attached until the broker is back, but known to the state file)
    assert docker_holders(d) == {}
    assert not state_holders(e.state_file).get("ua@local1"), (
        f"the removed container is still recorded as a holder: {state_holders(e.state_file)}"
    )
    assert mounted(e.mount_root) == {}, f"still mounted with no container: {mounted(e.mount_root)}"
    _consistent(e, with_db=False)

    e.start_broker()
    _works_and_cleans_up(d, e, "ua@local1", "before\n")


def test_broker_stalled_in_the_middle_of_a_detach(docker_engine: DockerEngine, split_vdvs: SplitVdvs) -> None:
    d, e = docker_engine, split_vdvs
    _create_with_data(d, "ub@local1")
    container = _holder(d, "ub@local1")
    e.hold("detach")
    with ThreadPoolExecutor(1) as pool:
        rm = pool.submit(_timed, d, "rm", "-f", container)
        e.wait_entered("detach")
        e.signal_broker(signal.SIGSTOP)
        e.release("detach")
        result, took = rm.result(ERROR_BOUND_S + 30)
    ok(result, "docker rm -f with the broker stalled")
    assert took < ERROR_BOUND_S, f"docker rm -f took {took:.0f}s"
    assert mounted(e.mount_root) == {}, "the filesystem must be unmounted even if the detach did not finish"
    assert docker_holders(d) == {} and not state_holders(e.state_file).get("ub@local1")
    _consistent(e, with_db=False)  # still attached, but known to the plugin

    e.signal_broker(signal.SIGCONT)
    _claim_settled(e, "ub")
    # whatever the broker finished, the plugin still knows of any attachment left
    _eventually(lambda: _consistent(e, with_db=False))
    leftover = set(db_attachments(e.db)) | set(disk_loops(e.datastores))
    known = {name.split("@")[0] for name in state_holders(e.state_file)}
    assert leftover <= known, f"attached but unknown to the plugin: {leftover - known}"
    # and the next use, then `docker volume rm`, finish the job
    _works_and_cleans_up(d, e, "ub@local1", "before\n")
