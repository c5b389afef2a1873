"""The CLI's calls to the local plugin over its unix socket (HTTP, as dockerd talks to it):
`vdvs volume extend NAME` in a Docker VM, and `vdvs version` asking the plugin's release.

A module of its own so that http.client loads only for the commands that use it, not for every
`vdvs volume ...` command.
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

EXTEND_TIMEOUT_S = 300.0  # the plugin waits for the broker's extend and the filesystem's grow


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP on a unix socket (the plugin's), with one timeout for connect and every read."""

    def __init__(self, path: str | Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


class PluginCallError(Exception):
    """The local plugin refused the extend or could not be reached; the text says which. ``code``: the
    broker's error code when it refused (exit 2, as an admin command's refusal), else 0 (exit 1)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def plugin_extend(path: Path, name: str, size: str, timeout_s: float = EXTEND_TIMEOUT_S) -> dict[str, Any]:
    """POST /vdvs/Extend on the plugin socket; the plugin's answer, or PluginCallError."""
    conn = UnixHTTPConnection(path, timeout_s)
    try:
        conn.request(
            "POST", "/vdvs/Extend", json.dumps({"Name": name, "Size": size}), {"Content-Type": "application/json"}
        )
        raw = conn.getresponse().read()
    except (OSError, http.client.HTTPException) as exc:
        raise PluginCallError(f"cannot reach the vdvs plugin on {path}: {exc}") from None
    finally:
        conn.close()
    try:
        answer = json.loads(raw)
    except ValueError:
        raise PluginCallError(f"the plugin on {path} answered something that is not JSON") from None
    if not isinstance(answer, dict):
        raise PluginCallError(f"the plugin on {path} answered something that is not a JSON object")
    if answer.get("Err"):
        code = answer.get("Code")
        raise PluginCallError(str(answer["Err"]), code if isinstance(code, int) else 0)
    return answer
