"""A real Docker engine for tests: Debian's dockerd on a temp data root, a busybox image, and `vdvs up`.

dockerd runs with --iptables=false --bridge=none (no networking needed) and its
own --data-root/--exec-root/--host, so it touches nothing of the machine's.
The image is built locally FROM scratch with the static busybox of the
busybox-static package: no registry is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from testkit.system import Result, stop_process

IMAGE = "vdvs-bb:local"
PLUGIN_SOCKET = Path("/run/docker/plugins/vsphere.sock")
DOCKER_TIMEOUT_S = 120.0


class DockerUnavailable(Exception):
    pass


def docker_binary() -> str:
    # the engine is Debian's docker.io 20.10; its own CLI matches it exactly
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise DockerUnavailable("no docker CLI installed (apt-get install docker.io)")


class DockerEngine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = f"unix://{root / 'docker.sock'}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cli = docker_binary()

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def start(self) -> None:
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise DockerUnavailable("dockerd is not installed (apt-get install docker.io)")
        for sub in ("data", "exec"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        log = open(self.root / "dockerd.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                dockerd,
                "--storage-driver=overlay2",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--host",
                self.host,
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "docker.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while self.run("version", timeout=10).rc != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise DockerUnavailable(f"dockerd did not start; see {self.root / 'dockerd.log'}")
            time.sleep(0.2)
        self.build_image()

    def build_image(self) -> None:
        ctx = self.root / "image"
        ctx.mkdir(exist_ok=True)
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, ctx / "busybox")
        (ctx / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
            'ENTRYPOINT ["/bin/busybox"]\n'
        )
        result = self.run("build", "-q", "-t", IMAGE, str(ctx), timeout=300)
        if result.rc != 0:
            raise DockerUnavailable(f"cannot build the test image: {result.text}")

    def run(self, *args: str, timeout: float = DOCKER_TIMEOUT_S) -> Result:
        try:
            done = subprocess.run(
                [self.cli, *args], capture_output=True, text=True, env=self.env(), timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            return Result(124, "", f"docker {' '.join(args)} timed out after {timeout}s: {exc}")
        return Result(done.returncode, done.stdout, done.stderr)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.run("rm", "-f", *self.run("ps", "-aq").out.split(), timeout=60)
        stop_process(self.proc, 30)
        self.proc = None


class VdvsUp:
    """`vdvs up` as a subprocess, as a user runs it, on temp state and mount dirs."""

    def __init__(self, root: Path, vdvs: str) -> None:
        self.root = root
        self.vdvs = vdvs
        self.state = root / "state"
        self.mount_root = root / "mnt"
        self.admin_socket = root / "admin.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        if PLUGIN_SOCKET.exists():
            raise DockerUnavailable(f"{PLUGIN_SOCKET} exists: is another vdvs running? stop it first")
        self.log = open(self.root / "vdvs-up.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                self.vdvs,
                "up",
                "--state-dir",
                str(self.state),
                "--admin-socket",
                str(self.admin_socket),
                "--mount-root",
                str(self.mount_root),
                "--vm-name",
                "docker-host-1",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not PLUGIN_SOCKET.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise DockerUnavailable(f"vdvs up did not start: {(self.root / 'vdvs-up.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        self.log.close()
        if sig == signal.SIGKILL:
            PLUGIN_SOCKET.unlink(missing_ok=True)
