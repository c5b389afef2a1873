"""The fleet's network and namespaces: a bridge, one network namespace per node with a veth on the
bridge, and the processes that belong to a node (to cut its power).

Everything here is named ``vdvsfl*`` (bridge ``vdvsfl0``, namespaces ``vdvsfl-n<i>``, host ends
``vdvsfl-v<i>``) on 192.168.213.0/24, which the fleet itself creates: nothing else of the machine is
touched, and a run that crashed is cleaned up by name at the next start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from testkit.system import Result

BRIDGE = "vdvsfl0"
PREFIX = "vdvsfl-"
SUBNET = "192.168.213"
BRIDGE_IP = f"{SUBNET}.1"
CMD_TIMEOUT_S = 30.0
KILL_WAIT_S = 15.0


def run(*argv: str, timeout: float = CMD_TIMEOUT_S) -> Result:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Result(124, "", f"{' '.join(argv)} timed out after {timeout:g}s")
    return Result(done.returncode, done.stdout, done.stderr)


def must(*argv: str) -> str:
    result = run(*argv)
    if result.rc != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.text}")
    return result.out


def node_name(index: int) -> str:
    return f"{PREFIX}n{index}"


def node_ip(index: int) -> str:
    return f"{SUBNET}.{10 + index}"


def make_bridge() -> None:
    must("ip", "link", "add", BRIDGE, "type", "bridge")
    must("ip", "addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
    must("ip", "link", "set", BRIDGE, "up")


def make_node_net(index: int) -> None:
    """Namespace ``vdvsfl-n<i>`` with eth0 = ``192.168.213.<10+i>`` on the bridge, and lo up."""
    name, veth = node_name(index), f"{PREFIX}v{index}"
    must("ip", "netns", "add", name)
    must("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
    must("ip", "link", "set", veth, "master", BRIDGE, "up")
    inside = ("ip", "netns", "exec", name)  # only `ip` runs this way (dockerd must use nsenter)
    must(*inside, "ip", "addr", "add", f"{node_ip(index)}/24", "dev", "eth0")
    must(*inside, "ip", "link", "set", "eth0", "up")
    must(*inside, "ip", "link", "set", "lo", "up")


def remove_net() -> None:
    """Delete every ``vdvsfl-*`` namespace and the bridge (the veths go with their namespaces)."""
    for line in run("ip", "netns", "list").out.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            kill_node_processes(name)
            run("ip", "netns", "del", name)
    if run("ip", "link", "show", BRIDGE).rc == 0:
        run("ip", "link", "del", BRIDGE)


def _ns_id(pid: str, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return ""


def node_pids(name: str) -> list[int]:
    """Every process of node ``name``: in its network namespace (dockerd, containerd, the plugin,
    the shims), or in a cgroup under ``/<name>/`` (the containers: dockerd runs with that cgroup parent)."""
    try:
        net = os.stat(f"/run/netns/{name}")
    except OSError:
        return []
    wanted = f"net:[{net.st_ino}]"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
            continue
        try:
            cgroups = (entry / "cgroup").read_text()
        except OSError:
            continue
        if _ns_id(entry.name, "net") == wanted or f"/{name}/" in cgroups:
            found.append(int(entry.name))
    return found


def kill_node_processes(name: str) -> int:
    """SIGKILL every process of the node, as a power cut would stop them; returns how many there were."""
    deadline = time.monotonic() + KILL_WAIT_S
    killed: set[int] = set()
    while True:
        pids = node_pids(name)
        if not pids:
            return len(killed)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of {name} survived SIGKILL for {KILL_WAIT_S:g}s: {pids}")
        time.sleep(0.05)
