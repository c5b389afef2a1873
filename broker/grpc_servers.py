"""The broker's gRPC servers, built and bound (not started): VolumeService with mTLS for VM
certificates, AdminService on the root-only unix socket, and AdminService on TCP with mTLS for admin
certificates. Each AdminService server has the guard of its transport in front of every call."""

from __future__ import annotations

import os
from pathlib import Path

import grpc

from vdvs.broker.admin_context import AdminContext
from vdvs.broker.admin_guard import SOCKET, TLS, AdminCallers, AdminGuard
from vdvs.broker.admin_service import AdminServicer
from vdvs.broker.pki import CertificateAuthority
from vdvs.broker.volume_service import VolumeServicer
from vdvs.proto import admin_pb2_grpc, volume_pb2_grpc


class ListenError(Exception):
    """An address could not be bound; the message names it and its setting."""


def _mtls(ca: CertificateAuthority) -> grpc.ServerCredentials:
    """Our server certificate; only clients holding a certificate of our CA get past the handshake."""
    return grpc.ssl_server_credentials(
        [(ca.server_key_path.read_bytes(), ca.server_cert_path.read_bytes())],
        root_certificates=ca.ca_pem(),
        require_client_auth=True,
    )


def with_port(listen: str, port: int) -> str:
    host = listen.rsplit(":", 1)[0]
    return f"{host}:{port}"


def volume_server(ca: CertificateAuthority, servicer: VolumeServicer, listen: str) -> tuple[grpc.aio.Server, str]:
    """VolumeService with mTLS, and the address it is bound to (the port chosen, if 0 was asked)."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    volume_pb2_grpc.add_VolumeServiceServicer_to_server(servicer, server)
    port = server.add_secure_port(listen, _mtls(ca))
    if port == 0:
        raise ListenError(f"cannot listen on {listen}")
    return server, listen if listen.startswith("unix:") else with_port(listen, port)


def prepare_socket(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        path.unlink()


def admin_servers(
    ca: CertificateAuthority, context: AdminContext, admin_socket: Path, admin_listen: str
) -> tuple[list[grpc.aio.Server], str]:
    """AdminService on the root-only socket (root) and, if ``admin_listen`` is set, on TCP for admin
    certificates; the TCP address bound ('' without one). The socket server comes first."""
    servicer = AdminServicer(context)
    callers = AdminCallers(context.store, context.workers)
    guard = AdminGuard(SOCKET, callers, context.audit, context.store, context.workers)
    socket_server = grpc.aio.server(interceptors=[guard])
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, socket_server)
    prepare_socket(admin_socket)
    # gRPC binds here, not at start: the socket must never exist with more than owner rights
    old_umask = os.umask(0o077)
    try:
        socket_server.add_insecure_port(f"unix://{admin_socket}")
    finally:
        os.umask(old_umask)
    os.chmod(admin_socket, 0o600)
    if not admin_listen:
        return [socket_server], ""
    # On TCP the handshake admits any certificate of our CA; the guard then accepts admin ones only.
    tls_guard = AdminGuard(TLS, callers, context.audit, context.store, context.workers)
    server = grpc.aio.server(interceptors=[tls_guard], options=[("grpc.so_reuseport", 0)])
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, server)
    port = server.add_secure_port(admin_listen, _mtls(ca))
    if port == 0:
        raise ListenError(f"cannot listen on {admin_listen} ([broker] admin_listen)")
    return [socket_server, server], with_port(admin_listen, port)
