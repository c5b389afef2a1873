"""A `vdvs broker` run as deployed: its own process, config file and log, and the `vdvs` command run
against it, each a subprocess.

``BrokerProcess`` is the one base of every harness that runs the broker as a process (the tenancy
CLI tests, the crash tests, several brokers on one store, the benchmarks): it writes the config
file, runs `vdvs config init`, starts and stops the process, enrolls VMs, and reads `vdvs status`.
Each harness adds only what it is about.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from testkit.system import Result, stop_process
from vdvs.broker.config import BrokerConfig
from vdvs.cli.admin_client import broker_running
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

# the vdvs command of the environment running the tests (a fresh clone's own venv in CI)
VDVS = str(Path(sys.executable).with_name("vdvs"))
CLI_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
KILL_WAIT_S = 30.0


def cli_env() -> dict[str, str]:
    """The environment of the broker and the CLI: this one, minus what would redirect or break them
    (another admin socket, fault points meant for a single process)."""
    env = {k: v for k, v in os.environ.items() if k != "VDVS_ADMIN_SOCKET" and not k.startswith("VDVS_FAULT_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env


def key_values(text: str) -> dict[str, str]:
    """`vdvs status` / `config status` text output -> {key: value} (section headers map to '')."""
    pairs = [line.split(": ", 1) if ": " in line else [line.rstrip(":"), ""] for line in text.splitlines()]
    return {k: v for k, v in pairs}


def start_broker_process(
    config_path: Path, log_path: Path, admin_socket: Path, env: dict[str, str], *args: str, label: str = "broker"
) -> subprocess.Popen[bytes]:
    """`vdvs broker --config`, its output appended to ``log_path``; returns once the admin socket answers.

    A broker that exits first fails with its log; one that never answers is stopped, then fails.
    """
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [VDVS, "broker", "--config", str(config_path), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not broker_running(admin_socket):
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{label} exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            stop_process(proc, STOP_TIMEOUT_S)
            raise AssertionError(f"{label} did not open {admin_socket} in {START_TIMEOUT_S}s")
        time.sleep(0.02)
    return proc


class BrokerProcess:
    """One broker process: ``<home>/broker.toml`` and ``<home>/broker.log``, sockets as ``config`` says.

    ``env`` is added to the environment of the broker and of the CLI run against it; ``broker_id``
    is written as ``[broker] id`` (which ``BrokerConfig.to_toml`` does not write).
    """

    def __init__(
        self,
        config: BrokerConfig,
        home: Path,
        *,
        broker_id: str = "",
        env: dict[str, str] | None = None,
        label: str = "broker",
    ) -> None:
        self.config = config
        self.home = home
        self.broker_id = broker_id
        self.env = dict(env or {})
        self.label = label
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.home / "broker.toml"

    @property
    def log_path(self) -> Path:
        return self.home / "broker.log"

    @property
    def admin_socket(self) -> Path:
        return self.config.admin_socket

    @property
    def address(self) -> str:
        return self.config.listen

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.label} is not running"
        return self.proc.pid

    # ------------------------------------------------------------------ config and process
    def write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = tomllib.loads(self.config.to_toml())
        if self.broker_id:
            data["broker"]["id"] = self.broker_id
        self.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
        self.config_path.chmod(0o600)

    def init(self, state_dir: Path) -> Result:
        """Write the config file, then `vdvs config init` on it: CA, datastores, the store's schema."""
        self.write_config()
        return self.run("config", "init", "--config", str(self.config_path), "--state-dir", str(state_dir),
                        admin=False)  # fmt: skip

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Start `vdvs broker` (extra arguments, extra environment for this process only)."""
        assert not self.running(), f"{self.label} is already running"
        environment = {**cli_env(), **self.env, **(env or {})}
        self.proc = start_broker_process(
            self.config_path, self.log_path, self.admin_socket, environment, *args, label=self.label
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes too long."""
        if self.running():
            assert self.proc is not None
            stop_process(self.proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL: a crash, a power cut, a host lost."""
        if self.running():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=KILL_WAIT_S)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_messages(self) -> list[str]:
        """The ``msg`` of every JSON log line the broker wrote (its logs go to a file: JSON lines)."""
        found = []
        for line in self.log().splitlines():
            try:
                found.append(str(json.loads(line)["msg"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    # ------------------------------------------------------------------ the vdvs command against this broker
    def run(self, *args: str, admin: bool = True, timeout: float = CLI_TIMEOUT_S) -> Result:
        argv = [VDVS, *args] + (["--admin-socket", str(self.admin_socket)] if admin else [])
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env={**cli_env(), **self.env}, check=False
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, admin: bool = True) -> str:
        """Run a command that must succeed; its stdout without the final newline."""
        res = self.run(*args, admin=admin)
        assert res.rc == 0, f"vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        return res.out.rstrip("\n")

    def js(self, *args: str, admin: bool = True) -> Any:
        return json.loads(self.ok(*args, "--json", admin=admin))

    def status(self) -> dict[str, str]:
        """`vdvs status`, as {key: value}."""
        return key_values(self.ok("status"))

    # ------------------------------------------------------------------ VMs
    def enroll(self, name: str, vm_uuid: str, out: Path) -> Path:
        """`vdvs vm enroll`: the VM's certificate bundle written to ``out``."""
        self.ok("vm", "enroll", name, "--uuid", vm_uuid, "--out", str(out))
        return out

    def client(
        self, bundle_dir: Path, *, call_timeout_s: float = 30, op_timeout_s: float = 90, retry_budget_s: float = 1
    ) -> BrokerClient:
        """The plugin's VolumeService client for an enrolled VM (the caller closes it)."""
        return BrokerClient(self.address, read_bundle(bundle_dir), bundle_dir=str(bundle_dir),
                            call_timeout_s=call_timeout_s, op_timeout_s=op_timeout_s,
                            retry_budget_s=retry_budget_s)  # fmt: skip
