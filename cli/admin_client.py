"""The admin CLI's client of the broker's AdminService (root-only unix socket).

gRPC and the generated code load when a client is made, not when this module is imported:
`vdvs --help` and commands that never call the broker do without them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

DEFAULT_ADMIN_SOCKET = Path(os.environ.get("VDVS_ADMIN_SOCKET", "/run/vdvs/admin.sock"))
CALL_TIMEOUT_S = 60.0


class AdminError(Exception):
    """A refusal (``code`` > 0, vDVS code) or a failure to reach the broker (``code`` == 0)."""

    def __init__(self, message: str, code: int = 0, name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name


class AdminClient:
    def __init__(self, socket_path: Path = DEFAULT_ADMIN_SOCKET) -> None:
        import grpc

        from vdvs.proto import admin_pb2_grpc

        self.socket_path = socket_path
        self._channel = grpc.insecure_channel(f"unix://{socket_path}")
        self.stub = admin_pb2_grpc.AdminServiceStub(self._channel)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()

    def call(self, method: str, request: Any) -> Any:
        """Call ``method``; raise AdminError with the broker's text on failure."""
        import grpc

        if not self.socket_path.exists():
            raise AdminError(
                f"Cannot reach the vdvs broker: no admin socket at {self.socket_path} "
                "(is 'vdvs broker' or 'vdvs up' running?)"
            )
        try:
            return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            details = err.details()  # type: ignore[attr-defined]
            trailing = err.trailing_metadata()  # type: ignore[attr-defined]
            from vdvs.proto import status as wire_status  # only to read a refusal

            remote = wire_status.decode(code.value[0], details, trailing)
            if remote.code:
                raise AdminError(remote.message, remote.code, remote.name) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise AdminError(f"Cannot reach the vdvs broker at {self.socket_path}: {details}") from None
            raise AdminError(f"{method} failed: {details}") from None


def broker_running(socket_path: Path) -> bool:
    """Whether a broker answers on its admin socket."""
    if not socket_path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(socket_path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
