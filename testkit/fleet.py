"""A multi-node Docker fleet on one machine, on vSphere (vcsim): three dockerd nodes in their own
namespaces on a bridge, each with a `vdvs plugin` enrolled as a different vcsim VM, one `vdvs broker`
on the vsphere backend, the guest-disk emulator, and a swarm across the nodes.

Node 1 is the swarm's only manager; nodes 2 and 3 are workers. Tests place their services on
workers (``node.role==worker``) and cut or drain a worker, so the swarm itself never loses its
manager. Setup and teardown each take some tens of seconds: one fleet per test session.

Teardown, in the recipe's order, each step bounded: services, ``swarm leave --force``, the plugins
and dockerds (SIGTERM, then SIGKILL of whatever of a node is left), the guest-disk emulator (loop
devices), the broker, vcsim, the namespaces, the bridge, the files.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from testkit.broker_process import BrokerProcess
from testkit.fleet_net import BRIDGE_IP, make_bridge, make_node_net, remove_net
from testkit.fleet_node import FleetNode, NodeError
from testkit.guest_disks import GuestDisks, prepare_vm
from testkit.system import cleanup_host
from testkit.vsphere_sim import Sim, SimVm, start_sim, stop_sim
from vdvs.broker.config import BrokerConfig

NODES = 3
BROKER_PORT = 7643
SWARM_TIMEOUT_S = 120.0
LOCK = "/tmp/vdvs-fleet.lock"  # one fleet per machine: the bridge and namespace names are fixed
LOCK_WAIT_S = 1800.0
T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g}s")
        time.sleep(interval_s)


@dataclass
class Fleet:
    root: Path
    sim: Sim | None = None
    broker: BrokerProcess | None = None
    guest: GuestDisks | None = None
    nodes: list[FleetNode] = field(default_factory=list)
    lock: IO[str] | None = None

    @property
    def manager(self) -> FleetNode:
        return self.nodes[0]

    @property
    def workers(self) -> list[FleetNode]:
        return self.nodes[1:]

    def node_of_vm(self, vm: SimVm) -> FleetNode:
        return next(n for n in self.nodes if n.vm.uuid == vm.uuid)

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        self.lock = take_lock()
        remove_net()  # what a crashed run left behind (only vdvsfl* names)
        make_bridge()
        for index in range(1, NODES + 1):
            make_node_net(index)
        self.sim = start_sim("vpx")
        vms = self.sim.vms[:NODES]
        si = self.sim.connect()
        try:
            for vm in vms:
                prepare_vm(si, vm.uuid)
        finally:
            si.content.sessionManager.Logout()
        self.broker = self._start_broker(self.sim)
        for index, vm in enumerate(vms, start=1):
            bundle = self.broker.enroll(vm.name, vm.uuid, self.root / f"n{index}" / "bundle")
            self.nodes.append(FleetNode(index, self.root / f"n{index}", vm, self.broker.address, bundle))
        self.guest = GuestDisks(self.sim, {n.vm.uuid: n.dev_disk for n in self.nodes})
        self.guest.start()
        self._each(lambda n: (n.start(), n.build_image()))
        self._form_swarm()

    def _start_broker(self, sim: Sim) -> BrokerProcess:
        home = self.root / "broker"
        config = BrokerConfig.for_state_dir(home / "state", admin_socket=self.root / "admin.sock")
        config.backend = "vsphere"
        config.local_datastores = {}
        config.local_vm_datastore = None
        config.vsphere = sim.settings()
        config.listen = f"{BRIDGE_IP}:{BROKER_PORT}"  # the nodes reach it over the bridge, with mTLS
        broker = BrokerProcess(config, home, label="fleet broker")
        result = broker.init(home / "state")
        if result.rc != 0:
            raise RuntimeError(f"vdvs config init: {result.text}")
        broker.start()
        return broker

    def _each(self, action: Callable[[FleetNode], object]) -> None:
        """``action`` on every node at once (dockerd start and image builds are mostly waiting)."""
        errors: list[BaseException] = []

        def one(node: FleetNode) -> None:
            try:
                action(node)
            except BaseException as exc:  # re-raised below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(n,)) for n in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SWARM_TIMEOUT_S * 3)
        if errors:
            raise errors[0]

    def _form_swarm(self) -> None:
        m = self.manager
        m.ok("swarm", "init", "--advertise-addr", m.ip, "--listen-addr", f"{m.ip}:2377", timeout=60)
        token = m.ok("swarm", "join-token", "-q", "worker")
        for worker in self.workers:
            worker.ok("swarm", "join", "--token", token, "--advertise-addr", worker.ip, f"{m.ip}:2377", timeout=60)
        wait_until(lambda: self.ready_nodes() == NODES, SWARM_TIMEOUT_S, f"{NODES} swarm nodes Ready")

    def ready_nodes(self) -> int:
        out = self.manager.docker("node", "ls", "--format", "{{.Status}} {{.Availability}}").out
        return sum(1 for line in out.splitlines() if line.split()[:1] == ["Ready"])

    # ------------------------------------------------------------------ what tests do to nodes
    def restore(self, node: FleetNode) -> None:
        """Bring a cut, hung or drained node back: VM on, dockerd and plugin up, Ready and active in swarm."""
        assert self.sim is not None
        si = self.sim.connect()
        try:
            vm = si.content.searchIndex.FindByUuid(None, node.vm.uuid, True)
            if vm.runtime.powerState != "poweredOn":
                from pyVim.task import WaitForTask

                WaitForTask(vm.PowerOnVM_Task())
        finally:
            si.content.sessionManager.Logout()
        if not node.running():
            node.stop()  # whatever a hang left half running
            node.start()
        node_id = node.node_id()
        self.manager.ok("node", "update", "--availability", "active", node_id)
        wait_until(lambda: self.ready_nodes() == NODES, SWARM_TIMEOUT_S, f"{node.name} Ready again")

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        steps: list[tuple[str, Callable[[], object]]] = [
            ("services", self._remove_services),
            ("swarm leave", lambda: self._each(_leave_swarm)),
            ("nodes", lambda: self._each(lambda n: n.stop())),
            ("guest disks", lambda: self.guest and self.guest.close()),
            ("broker", lambda: self.broker and self.broker.stop()),
            ("vcsim", lambda: self.sim and stop_sim(self.sim)),
            ("network", remove_net),
            ("files", lambda: cleanup_host(self.root)),
        ]
        for _, step in steps:
            with contextlib.suppress(Exception):  # teardown goes on: later steps free more
                step()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()  # releases the flock
            self.lock = None

    def _remove_services(self) -> None:
        if self.nodes and self.manager.running():
            names = self.manager.docker("service", "ls", "-q").out.split()
            if names:
                self.manager.docker("service", "rm", *names, timeout=60)


def take_lock() -> IO[str]:
    """The machine's fleet lock (another test session's or benchmark's fleet: wait for it, bounded)."""
    lock = open(LOCK, "w")  # noqa: SIM115 - held until Fleet.stop
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise RuntimeError(f"another fleet held {LOCK} for {LOCK_WAIT_S:g}s") from None
            time.sleep(1)


def _leave_swarm(node: FleetNode) -> None:
    if node.running():
        node.docker("swarm", "leave", "--force", timeout=60)


def start_fleet() -> Fleet:
    """A started fleet (stopped again if starting fails half-way)."""
    fleet = Fleet(Path(tempfile.mkdtemp(prefix="vdvsfl-")))
    try:
        fleet.start()
    except BaseException:
        fleet.stop()
        raise
    return fleet


__all__ = ["Fleet", "FleetNode", "NodeError", "start_fleet", "wait_until"]
