"""The Docker managed plugin built by packaging/build-managed-plugin.sh, against a `vdvs broker`
process: create + set + enable, volumes through it into containers, mount state kept when the
plugin process dies and Docker restarts it, disable + rm leave nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine
from testkit.system import loops_under, mounts_under, stop_process
from tests.docker.helpers import exec_in, inspect, ok, run_in, start_holder, status_of, volume_names, wait_for
from vdvs.broker.config import BrokerConfig

pytestmark = pytest.mark.docker

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
VDVS = str(Path(sys.executable).with_name("vdvs"))
PLUGIN = "vsphere"
DRIVER = "vsphere:latest"
VM_NAME = "managed-vm"
VOLUME = "mpvol@local1"


@pytest.fixture(scope="module")
def plugin_dir() -> Iterator[Path]:
    """config.json + rootfs, built once for this module."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a Docker engine and loop devices")
    out = Path(tempfile.mkdtemp(prefix="vdvs-mp-"))
    started = time.monotonic()
    done = subprocess.run(
        [str(PACKAGING / "build-managed-plugin.sh"), str(out)],
        env={**os.environ, "VDVS_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"managed plugin built in {time.monotonic() - started:.1f}s: {done.stderr.strip()}")
    try:
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BrokerProcess:
    """`vdvs broker` with its own config (TCP listen, local datastore) and one enrolled VM."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "broker.toml"
        config = BrokerConfig.for_state_dir(root / "broker", admin_socket=root / "admin.sock")
        config.listen = f"127.0.0.1:{free_port()}"
        self.config = config
        self.bundle = root / "bundle"
        self.proc: subprocess.Popen[bytes] | None = None

    def vdvs(self, *args: str) -> str:
        done = subprocess.run([VDVS, *args], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"vdvs {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        self.config_path.write_text(self.config.to_toml())
        self.vdvs("config", "init", "--config", str(self.config_path))
        self.log = open(self.root / "broker.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [VDVS, "broker", "--config", str(self.config_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        host, port = self.config.listen.rsplit(":", 1)
        deadline = time.monotonic() + 60
        while not (self.config.admin_socket.exists() and self._accepts(host, int(port))):
            assert self.proc.poll() is None, (self.root / "broker.log").read_text()
            assert time.monotonic() < deadline, "vdvs broker did not start within 60s"
            time.sleep(0.1)
        self.vdvs(
            "vm", "enroll", VM_NAME, "--uuid", str(uuid.uuid4()), "--out", str(self.bundle),
            "--admin-socket", str(self.config.admin_socket),
        )  # fmt: skip

    @staticmethod
    def _accepts(host: str, port: int) -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    def disk_files(self) -> list[str]:
        root = self.config.local_datastores["local1"]
        return sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix in (".vmdk", ".vmfd")
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, 40)
        self.proc = None
        self.log.close()


@pytest.fixture
def broker(short_tmp: Path) -> Iterator[BrokerProcess]:
    process = BrokerProcess(short_tmp)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def plugin_processes(plugin_id: str) -> list[int]:
    """PIDs of the plugin's processes: Docker runs it in a cgroup named by the plugin's id."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cgroups = (entry / "cgroup").read_text().splitlines()
            except OSError:
                continue
            if any(line.endswith(f"/{plugin_id}") for line in cgroups):
                found.append(int(entry.name))
    return found


def remove_plugin(d: DockerEngine, plugins_root: Path) -> None:
    d.run("rm", "-f", *d.run("ps", "-aq").out.split(), timeout=60)
    d.run("plugin", "disable", "-f", PLUGIN, timeout=60)
    d.run("plugin", "rm", "-f", PLUGIN, timeout=60)
    for point in sorted(mounts_under(plugins_root), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, timeout=30)


def test_managed_plugin(docker_engine: DockerEngine, plugin_dir: Path, broker: BrokerProcess, short_tmp: Path) -> None:
    d = docker_engine
    plugins_root = d.root / "data" / "plugins"
    state = short_tmp / "plugin-state"
    state.mkdir()
    try:
        started = time.monotonic()
        ok(d.run("plugin", "create", PLUGIN, str(plugin_dir), timeout=600), "docker plugin create")
        created_s = time.monotonic() - started
        ok(
            d.run(
                "plugin", "set", PLUGIN, f"VDVS_BROKER={broker.config.listen}", f"bundle.source={broker.bundle}",
                f"state.source={state}", "VDVS_SOCKET_GID=4321", "VDVS_LOG_LEVEL=debug",
            ),
            "docker plugin set",
        )  # fmt: skip
        ok(d.run("plugin", "enable", PLUGIN, timeout=120), "docker plugin enable")
        plugin_id = ok(d.run("plugin", "inspect", "-f", "{{.Id}}", PLUGIN)).out.strip()
        propagated = plugins_root / plugin_id / "propagated-mount"
        assert ok(d.run("plugin", "inspect", "-f", "{{.Enabled}}", PLUGIN)).out.strip() == "true"
        sockets = [p / plugin_id / "vsphere.sock" for p in (d.root / "exec" / "plugins", Path("/run/docker/plugins"))]
        sock = wait_for(lambda: next((s for s in sockets if s.exists()), None), 30, what="the plugin socket")
        assert os.stat(sock).st_gid == 4321, "VDVS_SOCKET_GID sets the socket's group"

        # a volume through the managed plugin, formatted and mounted inside it, used by containers
        ok(d.run("volume", "create", "-d", DRIVER, "-o", "size=200mb", "-o", "fstype=ext4", VOLUME), "create")
        volume = inspect(d, VOLUME)
        assert volume["Driver"] == DRIVER and volume["Status"]["created by VM"] == VM_NAME, volume
        assert volume["Status"]["fstype"] == "ext4" and volume["Status"]["capacity"]["size"] == "200MB"
        out = ok(run_in(d, VOLUME, "echo managed > /data/f && mount"), "docker run -v").out
        assert any(" /data type ext4 " in line and "/dev/loop" in line for line in out.splitlines()), out
        assert ok(run_in(d, VOLUME, "cat /data/f")).out == "managed\n"
        assert status_of(d, VOLUME)["status"] == "idle"  # kept attached to this VM for its next container

        # a held mount shows on the host under the propagated mount; its holder is recorded on
        # the state mount, so killing the plugin process (Docker restarts it) loses nothing
        holder = start_holder(d, VOLUME, 120)
        assert mounts_under(propagated / VOLUME), "the mount must reach the host under propagated-mount"
        assert VOLUME in (state / "mounts.json").read_text()
        (pid,) = plugin_processes(plugin_id)
        os.kill(pid, signal.SIGKILL)
        new = wait_for(lambda: [p for p in plugin_processes(plugin_id) if p != pid], 60, what="Docker to restart it")
        assert len(new) == 1
        wait_for(lambda: next((s for s in sockets if s.exists()), None), 30, what="the restarted plugin's socket")
        assert ok(exec_in(d, holder, "cat /data/f && echo more >> /data/f")).out == "managed\n"
        assert status_of(d, VOLUME)["status"] == "attached"
        ok(d.run("rm", "-f", holder), "docker rm -f")
        wait_for(
            lambda: status_of(d, VOLUME)["status"] == "idle" and not mounts_under(propagated / VOLUME),
            30,
            what="the restarted plugin to unmount and release",
        )
        assert len(loops_under(broker.root)) == 1  # the idle attachment, nothing more
        assert ok(run_in(d, VOLUME, "cat /data/f")).out == "managed\nmore\n"

        refused = d.run("plugin", "disable", PLUGIN, timeout=60)
        assert refused.rc != 0 and "in use" in refused.text, f"a plugin with volumes stays enabled: {refused.text}"
        ok(d.run("volume", "rm", VOLUME), "docker volume rm")
        assert VOLUME not in volume_names(d, driver=DRIVER)
        assert broker.disk_files() == []
        ok(d.run("plugin", "disable", PLUGIN, timeout=60), "docker plugin disable")
        assert plugin_processes(plugin_id) == []
        ok(d.run("plugin", "rm", PLUGIN, timeout=60), "docker plugin rm")
        assert ok(d.run("plugin", "ls", "-q")).out.strip() == ""
        assert not (plugins_root / plugin_id).exists(), "docker plugin rm must remove the plugin's files"
        assert mounts_under(plugins_root) == [] and loops_under(broker.root) == []
        print(f"docker plugin create took {created_s:.1f}s")
    finally:
        remove_plugin(d, plugins_root)
