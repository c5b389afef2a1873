"""The admin CLI's client of the broker's AdminService: the root-only unix socket, or a remote broker over
TCP with mTLS, as the admin whose certificate bundle it holds (``ca.pem``, ``admin.pem``, ``admin.key``,
written by `vdvs admin enroll NAME --out DIR`).

gRPC and the generated code load when a client is made, not when this module is imported:
`vdvs --help` and commands that never call the broker do without them. A command makes only the
one or two method callables it uses, from admin.proto's descriptor, rather than the generated
stub's fifty-odd (a few milliseconds of every command's start).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ADMIN_SOCKET = Path(os.environ.get("VDVS_ADMIN_SOCKET", "/run/vdvs/admin.sock"))
CALL_TIMEOUT_S = 60.0
ADMIN_CERT_FILE = "admin.pem"
ADMIN_KEY_FILE = "admin.key"
BROKER_NAME = "vdvs-broker"  # the name the broker's server certificate carries


class AdminError(Exception):
    """A refusal (``code`` > 0, vDVS code) or a failure to reach the broker (``code`` == 0)."""

    def __init__(self, message: str, code: int = 0, name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name


@dataclass(frozen=True)
class Target:
    """Where AdminService is: the local socket, or ``broker`` (host:port) with an admin ``bundle``."""

    socket: Path = DEFAULT_ADMIN_SOCKET
    broker: str = ""
    bundle: Path | None = None

    @property
    def remote(self) -> bool:
        return bool(self.broker)

    def __str__(self) -> str:
        return self.broker or str(self.socket)


def _credentials(bundle: Path) -> Any:
    import grpc

    from vdvs.plugin.bundle import read_bundle

    try:
        files = read_bundle(bundle, ADMIN_CERT_FILE, ADMIN_KEY_FILE)
    except FileNotFoundError as exc:
        raise AdminError(
            f"no admin bundle in {bundle}: {Path(exc.filename).name} is missing "
            "(write one with 'vdvs admin enroll NAME --out DIR' on the broker's host)"
        ) from None
    except OSError as exc:
        raise AdminError(f"cannot read the admin bundle in {bundle}: {exc.strerror}") from None
    return grpc.ssl_channel_credentials(files.ca_pem, files.key_pem, files.cert_pem)


class AdminClient:
    def __init__(self, target: Target | Path = DEFAULT_ADMIN_SOCKET) -> None:
        import grpc

        self._methods: dict[str, Any] = {}
        self.target = target if isinstance(target, Target) else Target(socket=target)
        self.socket_path = self.target.socket
        if self.target.remote:
            if self.target.bundle is None:
                raise AdminError(f"--broker {self.target.broker} needs an admin bundle (--bundle DIR)")
            self._channel = grpc.secure_channel(
                self.target.broker,
                _credentials(self.target.bundle),
                options=[("grpc.ssl_target_name_override", BROKER_NAME)],
            )
        else:
            self._channel = grpc.insecure_channel(f"unix://{self.socket_path}")

    def _method(self, name: str) -> Any:
        """The callable of AdminService's method ``name`` on this channel, made on first use."""
        made = self._methods.get(name)
        if made is None:
            from google.protobuf.message_factory import GetMessageClass

            from vdvs.proto import admin_pb2

            service = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
            method = service.methods_by_name.get(name)
            if method is None:
                raise AdminError(f"the broker's AdminService has no method {name}")
            make = self._channel.unary_stream if method.server_streaming else self._channel.unary_unary
            made = self._methods[name] = make(
                f"/{service.full_name}/{name}",
                request_serializer=GetMessageClass(method.input_type).SerializeToString,
                response_deserializer=GetMessageClass(method.output_type).FromString,
            )
        return made

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()

    def call(self, method: str, request: Any) -> Any:
        """Call ``method``; raise AdminError with the broker's text on failure."""
        import grpc

        self._check_socket()
        try:
            return self._method(method)(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as err:
            raise self._error(method, err) from None

    def stream(self, method: str, request: Any) -> Iterator[Any]:
        """Call a server-streaming ``method`` (no deadline: it runs until the caller stops reading or
        the broker ends it); yield its replies; raise AdminError with the broker's text on failure."""
        import grpc

        self._check_socket()
        replies = self._method(method)(request)
        try:
            yield from replies
        except grpc.RpcError as err:
            raise self._error(method, err) from None
        finally:
            replies.cancel()

    def _check_socket(self) -> None:
        if not self.target.remote and not self.socket_path.exists():
            raise AdminError(
                f"Cannot reach the vdvs broker: no admin socket at {self.socket_path} "
                "(is 'vdvs broker' or 'vdvs up' running?)"
            )

    def _error(self, method: str, err: Any) -> AdminError:
        """The AdminError of a failed call: the broker's refusal, or why it could not be reached."""
        import grpc

        code = err.code()  # type: ignore[attr-defined]
        details = err.details()  # type: ignore[attr-defined]
        trailing = err.trailing_metadata()  # type: ignore[attr-defined]
        from vdvs.proto import status as wire_status  # only to read a refusal

        remote = wire_status.decode(code.value[0], details, trailing)
        if remote.code:
            return AdminError(remote.message, remote.code, remote.name)
        if code == grpc.StatusCode.UNAVAILABLE:
            if self.target.remote:
                return AdminError(
                    f"Cannot reach the vdvs broker at {self.target.broker}, or it refused the admin "
                    f"certificate in {self.target.bundle}: {details}"
                )
            return AdminError(f"Cannot reach the vdvs broker at {self.socket_path}: {details}")
        return AdminError(f"{method} failed: {details}")


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
