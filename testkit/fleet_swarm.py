"""Swarm services on the fleet: create one on the workers, find the node of its task, read what
the task finds in its volume; and the power-off failover, timed (for tests/fleet and bench/)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from testkit.docker_env import IMAGE
from testkit.fleet import Fleet, FleetNode, wait_until

TASK_TIMEOUT_S = 120.0
# the first task writes the payload once; every task adds its own hostname (container id) to /data/tasks
SCRIPT = 'test -f /data/payload || {{ echo "{payload}" > /data/payload; sync; }}; hostname >> /data/tasks; sleep 3600'


@dataclass(frozen=True)
class Task:
    node: FleetNode
    container: str


def create_service(fleet: Fleet, name: str, volume: str | None, payload: str, *constraints: str) -> None:
    """One replica on a worker (and ``constraints``); with ``volume``: mounted on /data, driver vsphere."""
    args = ["service", "create", "--detach", "--no-resolve-image", "--name", name, "--stop-grace-period", "1s",
            "--constraint", "node.role==worker"]  # fmt: skip
    for constraint in constraints:
        args += ["--constraint", constraint]
    if volume is not None:
        args += ["--mount", f"type=volume,src={volume},dst=/data,volume-driver=vsphere,volume-opt=size=100mb"]
        command = SCRIPT.format(payload=payload)
    else:
        command = "sleep 3600"
    fleet.manager.ok(*args, IMAGE, "sh", "-c", command)


def running_task(fleet: Fleet, service: str, exclude: FleetNode | None = None) -> Task | None:
    """The service's running task container, on a node other than ``exclude``."""
    for node in fleet.workers:
        if node is exclude or not node.running():
            continue
        out = node.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").out.split()
        if out:
            return Task(node, out[0])
    return None


def read(task: Task, path: str) -> str | None:
    result = task.node.docker("exec", task.container, "cat", path, timeout=30)
    return result.out if result.rc == 0 else None


def service_state(fleet: Fleet, service: str) -> str:
    """`docker service ps` of the service: for an assertion message."""
    fmt = "{{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}"
    return fleet.manager.docker("service", "ps", "--no-trunc", "--format", fmt, service).text


def remove_service(fleet: Fleet, name: str, volume: str | None = None) -> None:
    """Remove the service; with ``volume``, once no task of it runs anywhere, remove that too: a
    volume stays attached to its last VM while idle, and the next test must not find it there."""
    fleet.manager.docker("service", "rm", name, timeout=60)
    if volume is None:
        return

    def gone() -> bool:
        return all(
            not node.docker("ps", "-aq", "--filter", f"label=com.docker.swarm.service.name={name}").out.split()
            for node in fleet.nodes
            if node.running()
        )

    wait_until(gone, TASK_TIMEOUT_S, f"the tasks of {name} gone", interval_s=0.2)

    def removed() -> bool:
        result = fleet.manager.docker("volume", "rm", volume, timeout=60)
        return result.rc == 0 or "no such volume" in result.text.lower()

    wait_until(removed, TASK_TIMEOUT_S, f"volume {volume} removed", interval_s=0.5)


def wait_task(fleet: Fleet, service: str, payload: str | None, exclude: FleetNode | None = None) -> Task:
    """The service's running task (not on ``exclude``), once it reads ``payload`` from its volume."""

    def ready() -> Task | None:
        task = running_task(fleet, service, exclude)
        if task is None:
            return None
        if payload is None or read(task, "/data/payload") == payload + "\n":
            return task
        return None

    try:
        return wait_until(ready, TASK_TIMEOUT_S, f"a task of {service} reading its data", interval_s=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{service_state(fleet, service)}") from None


@dataclass(frozen=True)
class Failover:
    old: Task  # the volume service's task on the node cut
    new: Task  # its task on the other worker, reading the data
    volume_s: float  # power-off -> the new task read the data
    plain_s: float  # power-off -> the service without a volume running on the other worker


def power_off_failover(fleet: Fleet, volume: str, payload: str, tag: str) -> Failover:
    """Services ``<tag>-vol`` (with ``volume``) and ``<tag>-plain`` (none) on one worker; cut that node
    (every process SIGKILLed: the guest is gone) and power its VM off in vcsim; time both reschedules.

    The other worker is drained while the services are placed, so both tasks land on the same node.
    """
    first, other = fleet.workers
    manager = fleet.manager
    manager.ok("node", "update", "--availability", "drain", other.node_id())
    try:
        create_service(fleet, f"{tag}-vol", volume, payload)
        create_service(fleet, f"{tag}-plain", None, payload)
        old = wait_task(fleet, f"{tag}-vol", payload)
        wait_task(fleet, f"{tag}-plain", None)
    finally:
        manager.ok("node", "update", "--availability", "active", other.node_id())
    assert old.node is first, f"the task went to {old.node.name}, not {first.name}"
    assert fleet.sim is not None
    si = fleet.sim.connect()
    try:
        vm = si.content.searchIndex.FindByUuid(None, first.vm.uuid, True)
        start = time.monotonic()
        first.power_cut()
        vm.PowerOffVM_Task()  # vcsim completes it before answering
    finally:
        si.content.sessionManager.Logout()
    plain_s = volume_s = 0.0
    new: Task | None = None
    deadline = start + TASK_TIMEOUT_S
    while not (plain_s and volume_s):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no failover within {TASK_TIMEOUT_S:g}s\n{service_state(fleet, tag + '-vol')}\n"
                f"{service_state(fleet, tag + '-plain')}"
            )
        if not plain_s and running_task(fleet, f"{tag}-plain", exclude=first):
            plain_s = time.monotonic() - start
        if not volume_s:
            task = running_task(fleet, f"{tag}-vol", exclude=first)
            if task is not None and read(task, "/data/payload") == payload + "\n":
                volume_s, new = time.monotonic() - start, task
        time.sleep(0.1)
    assert new is not None
    return Failover(old, new, round(volume_s, 2), round(plain_s, 2))
