"""`vdvs login`'s call: the password to the broker's LoginService over TLS, the bundle back.

The broker's certificate is verified against the CA the user gives (or the one a previous login
left), under the name every broker certificate carries (``vdvs-broker``, broker/pki.py), as the
plugin does. gRPC and the generated code load when a login is made.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from vdvs.cli.admin_client import AdminError

BROKER_NAME = "vdvs-broker"  # broker/pki.py BROKER_DNS_NAME: the name the broker's certificate carries
LOGIN_TIMEOUT_S = 60.0  # above the broker's own bound on the directory ([auth.ldap] timeout_s, at most 300)


def login(broker: str, ca_file: Path, user: str, password: str, timeout_s: float = LOGIN_TIMEOUT_S) -> Any:
    """The broker's LoginResponse; AdminError with a one-line text (never the password) when refused."""
    import grpc

    from vdvs.proto import login_pb2, login_pb2_grpc

    try:
        ca_pem = ca_file.read_bytes()
    except OSError as exc:
        raise AdminError(f"cannot read the broker's CA {ca_file}: {exc.strerror}") from None
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = [("grpc.ssl_target_name_override", BROKER_NAME)]
    with grpc.secure_channel(broker, credentials, options=options) as channel:
        stub = login_pb2_grpc.LoginServiceStub(channel)
        try:
            return stub.Login(login_pb2.LoginRequest(user=user, password=password), timeout=timeout_s)
        except grpc.RpcError as err:
            raise _failure(broker, ca_file, err, timeout_s) from None


def _failure(broker: str, ca_file: Path, err: Any, timeout_s: float) -> AdminError:
    import grpc

    from vdvs.proto import status as wire_status

    code = err.code()
    remote = wire_status.decode(code.value[0], err.details(), err.trailing_metadata())
    if remote.code:
        return AdminError(remote.message, remote.code, remote.name)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return AdminError(f"the broker at {broker} did not answer the login within {timeout_s:g}s")
    if code == grpc.StatusCode.UNAVAILABLE and _listening(broker):
        return AdminError(
            f"the broker at {broker} failed the TLS check against the CA in {ca_file} "
            "(is that the broker's CA, and the broker's [auth] login_listen port?)"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return AdminError(f"cannot reach the broker's login service at {broker}: {err.details()}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return AdminError(f"{broker} serves no logins: point --broker at the broker's [auth] login_listen address")
    return AdminError(f"login at {broker} failed: {err.details()}")


def _listening(broker: str) -> bool:
    """Whether something accepts TCP connections at HOST:PORT (then TLS, not the network, failed)."""
    host, _, port = broker.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=3):
            return True
    except (OSError, ValueError):
        return False
