"""A broker and a plugin served on an event loop of their own (a thread), and a plain blocking
HTTP client on the plugin's unix socket: what a synchronous property test (hypothesis) drives."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.broker_env import BrokerEnv, start_broker_env
from tests.broker.helpers import set_privilege
from vdvs.cli.plugin_socket import UnixHTTPConnection
from vdvs.plugin.config import PluginConfig
from vdvs.plugin.server import PluginServer
from vdvs.tenancy.model import VM_DS_URL

START_BOUND_S = 60.0
CALL_BOUND_S = 60.0


@dataclass
class Answer:
    status: int
    content_type: str
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


class Served:
    """``start()`` runs broker + plugin on a private loop thread; ``post()`` is blocking."""

    def __init__(self, root: Path, max_volume_mb: int = 64, quota_mb: int = 512, with_plugin: bool = True) -> None:
        self.root = root
        self.with_plugin = with_plugin
        self.max_volume_mb = max_volume_mb
        self.quota_mb = quota_mb
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="served-loop", daemon=True)
        self.env: BrokerEnv | None = None
        self.plugin: PluginServer | None = None
        self.config: PluginConfig | None = None
        self._conn: UnixHTTPConnection | None = None

    def run(self, coro: Any, bound_s: float = CALL_BOUND_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(bound_s)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start(), START_BOUND_S)

    async def _start(self) -> None:
        self.env = env = await start_broker_env(self.root)
        # small volumes only: whatever the fuzzer manages to create stays cheap to format
        await set_privilege(env, VM_DS_URL, max_mb=self.max_volume_mb, quota_mb=self.quota_mb)
        if not self.with_plugin:
            return
        vm = await env.enroll("fuzzvm")
        self.config = PluginConfig(
            broker=env.address,
            bundle=vm.bundle_dir,
            socket=self.root / "fuzz.sock",
            mount_root=self.root / "mnt",
            state_file=self.root / "pstate" / "mounts.json",
            device_timeout_s=10.0,
            call_timeout_s=20.0,
            op_timeout_s=40.0,
            retry_budget_s=1.0,
        )
        self.plugin = PluginServer(self.config)
        await self.plugin.start()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self.thread.is_alive():
            self.run(self._stop(), START_BOUND_S)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
        self.loop.close()

    async def _stop(self) -> None:
        if self.plugin is not None:
            await self.plugin.stop()
        if self.env is not None:
            await self.env.close()

    def post(self, path: str, body: bytes, method: str = "POST", headers: dict[str, str] | None = None) -> Answer:
        """One request on a kept-alive connection (reopened if the server closed it)."""
        assert self.config is not None
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = UnixHTTPConnection(str(self.config.socket), CALL_BOUND_S)
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                resp = self._conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                return Answer(resp.status, resp.getheader("Content-Type", ""), raw)
            except (ConnectionError, http.client.HTTPException, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes on a fresh connection; whatever comes back (for malformed HTTP)."""
        assert self.config is not None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.config.socket))
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except OSError:
                return b""
            return b"".join(chunks)
