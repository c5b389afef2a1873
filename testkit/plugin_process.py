"""A `vdvs plugin` run as deployed: its own process, TOML config file and log, driven over its unix
socket the way dockerd drives it (POST JSON with Docker's plugin content type)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import tomli_w

from testkit.broker_process import VDVS, cli_env
from testkit.system import stop_process

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 120.0
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"


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


class PluginProcess:
    """One plugin process with its files under ``home``; ``settings`` are more ``[plugin]`` keys."""

    def __init__(self, home: Path, broker: str, bundle: Path, **settings: str) -> None:
        self.home = home
        self.settings = {
            "broker": broker,
            "bundle": str(bundle),
            "socket": str(home / "plugin.sock"),
            "mount_root": str(home / "mnt"),
            "state_file": str(home / "mounts.json"),
            **settings,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}  # more environment for the process (PYTHONPATH of an older release)

    @property
    def socket(self) -> Path:
        return Path(self.settings["socket"])

    @property
    def state_file(self) -> Path:
        return Path(self.settings["state_file"])

    @property
    def log_path(self) -> Path:
        return self.home / "plugin.log"

    def start(self) -> None:
        """Write ``plugin.toml`` and run `vdvs plugin --config` on it; returns once its socket answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "plugin.toml"
        config.write_text(tomli_w.dumps({"plugin": self.settings}), encoding="utf-8")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([VDVS, "plugin", "--config", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, env={**cli_env(), **self.env},
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not connectable(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"vdvs plugin did not serve {self.socket}:\n{tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, STOP_TIMEOUT_S)

    def mounted(self) -> list[str]:
        """The volumes the plugin's state file says are mounted on this host."""
        if not self.state_file.exists():
            return []
        return sorted(json.loads(self.state_file.read_text())["volumes"])

    async def call(self, verb: str, **body: Any) -> dict[str, Any]:
        """``POST /VolumeDriver.<verb>``, as dockerd sends it; the reply must have an empty ``Err``."""
        connector = aiohttp.UnixConnector(path=str(self.socket))
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            headers = {"Accept": CONTENT_TYPE}
            async with session.post(f"http://localhost/VolumeDriver.{verb}", json=body, headers=headers) as reply:
                answer: dict[str, Any] = json.loads(await reply.text())
        assert reply.status == 200 and not answer.get("Err"), f"{verb} {body}: HTTP {reply.status} {answer}"
        return answer
