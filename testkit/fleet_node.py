"""One Docker node of the fleet: a dockerd in its own network, mount and UTS namespaces, and a
`vdvs plugin` in the same namespaces, enrolled as one vcsim VM.

The node's mount namespace is private (``unshare -m --propagation private``) and gets two bind
mounts of host directories: ``<home>/plugins`` on ``/run/docker/plugins`` (so this dockerd finds
its own ``vsphere.sock``, and no other) and ``<home>/dev-disk`` on ``/dev/disk`` (where the
guest-disk emulator makes the links udev would make in a VM). The plugin runs inside that
namespace (``nsenter`` into dockerd's), so the filesystems it mounts are the ones this dockerd
gives its containers, as in a VM. Power is cut by SIGKILLing every process of the node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import tomli_w

from testkit.broker_process import VDVS, cli_env
from testkit.docker_env import IMAGE, docker_binary
from testkit.fleet_net import kill_node_processes, node_ip, node_name
from testkit.plugin_process import connectable
from testkit.system import Result, stop_process
from testkit.vsphere_sim import SimVm

DOCKER_TIMEOUT_S = 120.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
NODE_PLUGIN_SOCKET = "/run/docker/plugins/vsphere.sock"  # as the node sees it


class NodeError(Exception):
    pass


class FleetNode:
    def __init__(self, index: int, home: Path, vm: SimVm, broker: str, bundle: Path) -> None:
        self.index = index
        self.name = node_name(index)
        self.ip = node_ip(index)
        self.home = home
        self.vm = vm
        self.broker = broker
        self.bundle = bundle
        self.host = f"unix://{home / 'docker.sock'}"
        self.cli = docker_binary()
        self.dockerd: subprocess.Popen[bytes] | None = None
        self.plugin: subprocess.Popen[bytes] | None = None

    @property
    def plugins_dir(self) -> Path:
        return self.home / "plugins"

    @property
    def dev_disk(self) -> Path:
        return self.home / "dev-disk"

    @property
    def mount_root(self) -> Path:
        return self.home / "mnt"

    # ------------------------------------------------------------------ docker CLI
    def docker(self, *args: str, timeout: float = DOCKER_TIMEOUT_S) -> Result:
        env = {**cli_env(), "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}
        try:
            done = subprocess.run([self.cli, *args], capture_output=True, text=True, env=env, timeout=timeout,
                                  check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return Result(124, "", f"docker {' '.join(args)} on {self.name} timed out after {timeout:g}s")
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, timeout: float = DOCKER_TIMEOUT_S) -> str:
        result = self.docker(*args, timeout=timeout)
        if result.rc != 0:
            raise NodeError(f"docker {' '.join(args)} on {self.name} -> {result.rc}: {result.text}")
        return result.out.strip()

    # ------------------------------------------------------------------ processes
    def start(self) -> None:
        """dockerd, then the plugin, then what swarm needs to place volume tasks here."""
        # the plugin first: a dockerd that holds vsphere volumes waits for it before serving its API
        self.start_dockerd()
        self.start_plugin()
        self.wait_dockerd()
        # swarm places a task that needs a volume driver only on an engine that lists it
        self.ok("volume", "ls", "-f", "driver=vsphere")

    def start_dockerd(self) -> None:
        for sub in ("plugins", "dev-disk", "mnt", "data", "exec"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        Path("/run/docker/plugins").mkdir(parents=True, exist_ok=True)  # mount points inside the namespace
        Path("/dev/disk").mkdir(exist_ok=True)
        (self.plugins_dir / "vsphere.sock").unlink(missing_ok=True)  # a cut node's, refusing connections
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise NodeError("dockerd is not installed (apt-get install docker.io)")
        h = self.home
        script = (
            f"hostname {self.name} && mount --bind {self.plugins_dir} /run/docker/plugins && "
            f"mount --bind {self.dev_disk} /dev/disk && exec {dockerd} --storage-driver=overlay2 "
            f"--iptables=false --ip6tables=false --bridge=none --cgroup-parent=/{self.name} --host {self.host} "
            f"--data-root {h / 'data'} --exec-root {h / 'exec'} --pidfile {h / 'docker.pid'}"
        )
        # nsenter, not `ip netns exec` (that one remounts /sys and hides the cgroup mounts from dockerd)
        argv = ["nsenter", f"--net=/run/netns/{self.name}", "unshare", "-m", "-u", "--propagation", "private",
                "sh", "-c", script]  # fmt: skip
        with open(h / "dockerd.log", "ab") as log:
            self.dockerd = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._namespace_ready():  # the shell has made the bind mounts and exec'd dockerd
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                raise NodeError(f"dockerd of {self.name} did not start: see {h / 'dockerd.log'}")
            time.sleep(0.02)

    def _namespace_ready(self) -> bool:
        assert self.dockerd is not None
        try:
            return os.readlink(f"/proc/{self.dockerd.pid}/exe").endswith("dockerd")
        except OSError:
            return False

    def wait_dockerd(self) -> None:
        assert self.dockerd is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.docker("version", timeout=10).rc != 0:
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                tail = (self.home / "dockerd.log").read_text(errors="replace")[-2000:]
                raise NodeError(f"dockerd of {self.name} did not start:\n{tail}")
            time.sleep(0.2)

    def start_plugin(self) -> None:
        """`vdvs plugin` in dockerd's namespaces; its socket is ``<home>/plugins/vsphere.sock`` on the host."""
        assert self.dockerd is not None and self.dockerd.poll() is None, f"dockerd of {self.name} is not running"
        config = self.home / "plugin.toml"
        settings: dict[str, Any] = {
            "broker": self.broker,
            "bundle": str(self.bundle),
            "socket": NODE_PLUGIN_SOCKET,
            "mount_root": str(self.mount_root),
            "state_file": str(self.home / "mounts.json"),
            "log_level": "debug",
        }
        config.write_text(tomli_w.dumps({"plugin": settings}), encoding="utf-8")
        ns = f"/proc/{self.dockerd.pid}/ns"
        argv = ["nsenter", f"--net={ns}/net", f"--mount={ns}/mnt", f"--uts={ns}/uts",
                VDVS, "plugin", "--config", str(config)]  # fmt: skip
        with open(self.home / "plugin.log", "ab") as log:
            self.plugin = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=cli_env(),
                                           start_new_session=True)  # fmt: skip
        socket = self.plugins_dir / "vsphere.sock"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not connectable(socket):
            if self.plugin.poll() is not None or time.monotonic() > deadline:
                tail = (self.home / "plugin.log").read_text(errors="replace")[-2000:]
                raise NodeError(f"vdvs plugin of {self.name} did not serve {socket}:\n{tail}")
            time.sleep(0.05)

    def running(self) -> bool:
        return self.dockerd is not None and self.dockerd.poll() is None

    def stop(self) -> None:
        """A clean shutdown: the plugin, then dockerd (SIGTERM), then whatever of the node is left."""
        for proc in (self.plugin, self.dockerd):
            if proc is not None and proc.poll() is None:
                stop_process(proc, STOP_TIMEOUT_S)
        kill_node_processes(self.name)
        self.plugin = self.dockerd = None

    def power_cut(self) -> int:
        """Every process of the node SIGKILLed at once (the VM is gone); returns how many there were.
        Its mount namespace goes with the last of them, and with it the node's mounts."""
        count = kill_node_processes(self.name)
        for proc in (self.plugin, self.dockerd):
            if proc is not None:
                proc.wait(STOP_TIMEOUT_S)
        self.plugin = self.dockerd = None
        return count

    def build_image(self) -> None:
        """The busybox image, FROM scratch with the static busybox: no registry needed."""
        ctx = self.home / "image"
        ctx.mkdir(exist_ok=True)
        shutil.copy(shutil.which("busybox") or "/bin/busybox", ctx / "busybox")
        (ctx / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
            'ENTRYPOINT ["/bin/busybox"]\n'
        )
        self.ok("build", "-q", "-t", IMAGE, str(ctx), timeout=300)

    def node_id(self) -> str:
        return self.ok("info", "--format", "{{.Swarm.NodeID}}")
