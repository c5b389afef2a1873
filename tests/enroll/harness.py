"""A `vdvs broker` process serving joins ([broker] join_listen), and `vdvs plugin join` run as a VM would."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from testkit.broker_env import make_config
from testkit.broker_process import CLI_TIMEOUT_S, VDVS, BrokerProcess, cli_env
from testkit.system import Result


def start_broker(root: Path, **settings: Any) -> BrokerProcess:
    config = make_config(root)
    config.join_listen = "127.0.0.1:0"
    for key, value in settings.items():
        setattr(config, key, value)
    broker = BrokerProcess(config, root / "broker")
    init = broker.init(root)
    assert init.rc == 0, init
    broker.start()
    return broker


def join_address(broker: BrokerProcess) -> str:
    return broker.status()["JoinListen"]


def make_token(broker: BrokerProcess, vmgroup: str, *extra: str) -> dict[str, Any]:
    made: dict[str, Any] = broker.js("vm", "token", "create", "--vmgroup", vmgroup, *extra)
    return made


def fake_vm(root: Path, name: str) -> tuple[str, Path]:
    """A VM's BIOS uuid and the file standing for its /sys/class/dmi/id/product_uuid."""
    vm_uuid = str(uuid.uuid4())
    path = root / f"{name}.product_uuid"
    path.write_text(vm_uuid.upper() + "\n")  # SMBIOS shows it in capitals
    return vm_uuid, path


def join_argv(broker: BrokerProcess, token: str, ca_sha256: str, name: str, out: Path, uuid_file: Path) -> list[str]:
    return [VDVS, "plugin", "join", "--broker", join_address(broker), "--token", token, "--ca-sha256", ca_sha256,
            "--name", name, "--out", str(out), "--uuid-file", str(uuid_file)]  # fmt: skip


def run(argv: list[str], env: dict[str, str] | None = None) -> Result:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env={**cli_env(), **(env or {})}, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)
