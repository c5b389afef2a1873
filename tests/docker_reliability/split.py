"""The broker and the plugin as two processes (`vdvs broker`, `vdvs plugin`), so the broker can fail alone.

The broker runs with a small gate in front of ``losetup`` (first on its PATH):
while ``<gate>/hold-attach`` (or ``hold-detach``) exists, the broker's attach
(or detach) waits there, after creating ``<gate>/entered-<op>``. That lets a test
stop or kill the broker exactly in the middle of an attach, instead of hoping
to hit a millisecond window. With no hold file the gate is a plain exec.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from testkit.docker_env import PLUGIN_SOCKET
from testkit.system import stop_process

GATE_SCRIPT = """#!/bin/sh
op=""
for a in "$@"; do
  case "$a" in --find) op=attach ;; --detach) op=detach ;; esac
done
if [ -n "$op" ] && [ -e "{gate}/hold-$op" ]; then
  : > "{gate}/entered-$op"
  n=0
  while [ -e "{gate}/hold-$op" ] && [ "$n" -lt 150 ]; do sleep 0.1; n=$((n+1)); done
fi
exec {real} "$@"
"""

BROKER_TOML = """[broker]
listen = "unix://{state}/broker.sock"
admin_socket = "{admin}"
pki_dir = "{state}/pki"
workers = 8
op_timeout_s = 30.0
lock_timeout_s = 30.0
# every Mount attaches and every last Unmount detaches (vDVS's way): these tests stop the broker in
# the middle of the backend's attach and detach, which an idle attachment would skip
idle_detach_s = 0

[store]
kind = "sqlite"
path = "{state}/vdvs.db"

[backend]
kind = "local"

[backend.local]
vm_datastore = "local1"

[backend.local.datastores]
local1 = "{state}/datastores/local1"
"""

# Short plugin deadlines: a broker outage must reach Docker as an error in seconds, well
# inside Docker's own plugin timeouts (a minute or more for Mount/Unmount).
PLUGIN_TOML = """[plugin]
broker = "unix://{state}/broker.sock"
bundle = "{bundle}"
socket = "{socket}"
mount_root = "{mount_root}"
state_file = "{state}/plugin/mounts.json"
call_timeout_s = {call_timeout}
op_timeout_s = {op_timeout}
retry_budget_s = {retry_budget}
device_timeout_s = 10.0
"""
CALL_TIMEOUT_S = 2.0
OP_TIMEOUT_S = 3.0
RETRY_BUDGET_S = 2.0


def _connectable(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class SplitVdvs:
    def __init__(self, root: Path, vdvs: str) -> None:
        self.root = root
        self.vdvs = vdvs
        self.state = root / "state"
        self.mount_root = root / "mnt"
        self.datastores = self.state / "datastores"
        self.db = self.state / "vdvs.db"
        self.state_file = self.state / "plugin" / "mounts.json"
        self.admin_socket = root / "admin.sock"
        self.broker_socket = self.state / "broker.sock"
        self.bundle = root / "bundle"
        self.gate = root / "gate"
        self.broker_toml = root / "broker.toml"
        self.plugin_toml = root / "plugin.toml"
        self.vm_name = "docker-split-1"
        self.vm_uuid = str(uuid.uuid4())
        self.broker: subprocess.Popen[bytes] | None = None
        self.plugin: subprocess.Popen[bytes] | None = None
        self.broker_stopped = False

    # ------------------------------------------------------------------ setup
    def _vdvs(self, *args: str) -> str:
        done = subprocess.run([self.vdvs, *args], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"vdvs {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def setup(self) -> None:
        self.gate.mkdir(parents=True)
        real = shutil.which("losetup")
        assert real, "losetup is not installed"
        script = self.gate / "losetup"
        script.write_text(GATE_SCRIPT.format(gate=self.gate, real=real))
        script.chmod(0o755)
        self.broker_toml.write_text(BROKER_TOML.format(state=self.state, admin=self.admin_socket))
        self._vdvs("config", "init", "--config", str(self.broker_toml), "--state-dir", str(self.state))
        self.start_broker()
        self._vdvs(
            "vm", "enroll", self.vm_name, "--uuid", self.vm_uuid, "--out", str(self.bundle),
            "--admin-socket", str(self.admin_socket),
        )  # fmt: skip
        self.plugin_toml.write_text(
            PLUGIN_TOML.format(
                state=self.state,
                bundle=self.bundle,
                socket=PLUGIN_SOCKET,
                mount_root=self.mount_root,
                call_timeout=CALL_TIMEOUT_S,
                op_timeout=OP_TIMEOUT_S,
                retry_budget=RETRY_BUDGET_S,
            )
        )
        self.start_plugin()

    def _spawn(self, what: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{what}.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            config = self.broker_toml if what == "broker" else self.plugin_toml
            return subprocess.Popen(
                [self.vdvs, what, "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()

    def log(self, what: str) -> str:
        path = self.root / f"{what}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_broker(self, timeout: float = 30.0) -> None:
        assert self.broker is None
        env = {**os.environ, "PATH": f"{self.gate}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"}
        self.broker = proc = self._spawn("broker", env)
        deadline = time.monotonic() + timeout
        while not (_connectable(self.broker_socket) and _connectable(self.admin_socket)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"vdvs broker did not start: {self.log('broker')[-2000:]}")
            time.sleep(0.05)

    def start_plugin(self, timeout: float = 30.0) -> None:
        assert self.plugin is None
        assert not PLUGIN_SOCKET.exists(), f"{PLUGIN_SOCKET} exists: another plugin is running"
        self.plugin = proc = self._spawn("plugin")
        deadline = time.monotonic() + timeout
        while not _connectable(PLUGIN_SOCKET):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"vdvs plugin did not start: {self.log('plugin')[-2000:]}")
            time.sleep(0.05)

    # ------------------------------------------------------------------ broker faults
    def signal_broker(self, sig: int) -> None:
        """Signal the broker's whole process group (the broker and a gated losetup, if any)."""
        assert self.broker is not None
        os.killpg(self.broker.pid, sig)
        if sig == signal.SIGSTOP:
            self.broker_stopped = True
        elif sig == signal.SIGCONT:
            self.broker_stopped = False

    def kill_broker(self) -> None:
        assert self.broker is not None
        self.signal_broker(signal.SIGKILL)
        self.broker.wait(10)
        self.broker = None
        self.broker_stopped = False

    def stop_broker(self) -> None:
        if self.broker is None:
            return
        if self.broker_stopped:
            self.signal_broker(signal.SIGCONT)
        stop_process(self.broker, 30)
        self.broker = None

    # ------------------------------------------------------------------ gate
    def hold(self, op: str) -> None:
        (self.gate / f"entered-{op}").unlink(missing_ok=True)
        (self.gate / f"hold-{op}").touch()

    def release(self, op: str) -> None:
        (self.gate / f"hold-{op}").unlink(missing_ok=True)

    def wait_entered(self, op: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.gate / f"entered-{op}").exists():
            assert time.monotonic() < deadline, f"the broker never reached its {op} within {timeout:g}s"
            time.sleep(0.02)

    # ------------------------------------------------------------------ teardown
    def resume(self) -> None:
        """Whatever a test left stopped or killed runs again, so containers can still be unmounted."""
        self.release("attach")
        self.release("detach")
        if self.broker is not None and self.broker_stopped:
            self.signal_broker(signal.SIGCONT)
        if self.broker is None and self.db.exists():
            self.start_broker()

    def close(self) -> None:
        if self.plugin is not None:
            if not stop_process(self.plugin, 30):
                PLUGIN_SOCKET.unlink(missing_ok=True)
            self.plugin = None
        self.stop_broker()
