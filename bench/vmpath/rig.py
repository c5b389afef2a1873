"""The processes bench/hot_path.py measures, all under one temp dir, and their cleanup.

- the broker: `vdvs broker` (testkit's BrokerProcess) on `vdvs config init`'s state (local backend,
  SQLite), its store filled while it is stopped: ``vmgroups`` vmgroups holding ``volumes`` volumes,
  ``vms`` VMs each with a real certificate and bundle (testkit/loadgen.py), and ``vm_volumes``
  volumes in _DEFAULT for the bench VM, enrolled with `vdvs vm enroll` once the broker runs;
- the floor: bench/vmpath/floor.py on the broker's pki dir;
- the plugin: `vdvs plugin` on its own socket in the temp dir, with the bench VM's bundle.

``close()`` stops whatever was started, unmounts and detaches whatever is left under the temp dir,
and removes it, whether the run finished or not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from testkit.broker_env import make_config
from testkit.broker_process import VDVS, BrokerProcess, cli_env
from testkit.loadgen import Identity, populate
from testkit.seed import seed_ready_volume
from testkit.system import cleanup_host, stop_process
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]
BENCH_VM = "bench-vm"
BENCH_VM_UUID = "42b0a7e0-0000-4000-8000-00000000b001"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
VOLUME_MB = 100

PLUGIN_TOML = """[plugin]
broker = "{broker}"
bundle = "{bundle}"
socket = "{socket}"
mount_root = "{mount_root}"
state_file = "{state_file}"
"""


def connectable(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def hot_name(i: int) -> str:
    return f"hot{i:04d}"


class Rig:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.broker = BrokerProcess(make_config(root), root)
        self.bundle = root / "bundles" / BENCH_VM
        self.floor_socket = root / "floor.sock"
        self.plugin_socket = root / "plugin.sock"
        self.mount_root = root / "mnt"
        self.floor: subprocess.Popen[bytes] | None = None
        self.plugin: subprocess.Popen[bytes] | None = None
        self.identities: list[Identity] = []
        self._logs: list[IO[bytes]] = []

    @property
    def address(self) -> str:
        return self.broker.address

    @property
    def get_volume(self) -> str:
        return hot_name(0)

    # ------------------------------------------------------------------ setup
    def start_broker(self, vmgroups: int, vms: int, volumes: int, vm_volumes: int) -> float:
        """Init, fill the store, start the broker, enroll the bench VM; returns the seconds the filling took."""
        init = self.broker.init(self.root)
        if init.rc != 0:
            raise RuntimeError(f"vdvs config init failed: {init.text}")
        started = time.perf_counter()
        self.identities = populate(self.broker.config, self.root / "bundles", vmgroups, vms, volumes, vms)
        local1 = self.broker.config.local_datastores["local1"].resolve()
        store, now = SqliteStore(self.broker.config.store_path), vdvs_timestamp()
        try:
            with store.transaction():
                for i in range(vm_volumes):
                    seed_ready_volume(store, DEFAULT_VMGROUP_ID, local1.as_uri(), local1, hot_name(i),
                                      size_mb=VOLUME_MB, created=now, created_by=BENCH_VM)  # fmt: skip
        finally:
            store.close()
        filled = time.perf_counter() - started
        self.broker.start()
        self.broker.enroll(BENCH_VM, BENCH_VM_UUID, self.bundle)
        return filled

    def _spawn(self, name: str, argv: list[str], ready: Path) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=cli_env(), cwd=REPO,
                                start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not connectable(ready):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc, STOP_TIMEOUT_S)
                tail = (self.root / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not start serving {ready}:\n{tail}")
            time.sleep(0.02)
        return proc

    def start_floor(self) -> None:
        argv = [sys.executable, "-m", "bench.vmpath.floor", "--pki", str(self.broker.config.pki_dir)]
        self.floor = self._spawn("floor", [*argv, "--socket", str(self.floor_socket)], self.floor_socket)

    def start_plugin(self) -> None:
        config = self.root / "plugin.toml"
        config.write_text(PLUGIN_TOML.format(broker=self.address, bundle=self.bundle, socket=self.plugin_socket,
                                             mount_root=self.mount_root,
                                             state_file=self.root / "plugin" / "mounts.json"))  # fmt: skip
        self.plugin = self._spawn("plugin", [VDVS, "plugin", "--config", str(config)], self.plugin_socket)

    # ------------------------------------------------------------------ what the processes use
    def broker_rss_mb(self) -> float:
        return rss_mb(self.broker.pid)

    def plugin_rss_mb(self) -> float:
        assert self.plugin is not None
        return rss_mb(self.plugin.pid)

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        """Stop everything, plugin first (it holds mounts), then leave nothing behind."""
        for proc in (self.plugin, self.floor):
            if proc is not None and proc.poll() is None:
                stop_process(proc, STOP_TIMEOUT_S)
        self.broker.stop()
        for log in self._logs:
            log.close()
        if os.geteuid() == 0:
            cleanup_host(self.root)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
