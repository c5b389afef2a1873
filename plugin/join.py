"""`vdvs plugin join`: this VM gets its certificate bundle from the broker with a join token.

1. The VM's BIOS uuid is read from SMBIOS (``/sys/class/dmi/id/product_uuid``).
2. The broker's CA is the one given (``--ca``), or the one the broker's join listener sends in its
   TLS chain whose SHA-256 is the one given (``--ca-sha256``, printed by `vdvs vm token create`):
   the token's secret goes only to a broker that proves it holds that CA's certificate.
3. A key is made here and a CSR for it sent with the token (the key never leaves the VM).
4. On vSphere the broker first answers that it wrote a nonce into this VM's
   ``guestinfo.vdvs.nonce``; the guest reads it with open-vm-tools
   (``vmware-rpctool "info-get guestinfo.vdvs.nonce"``) and joins again with it.
5. The bundle (ca.pem, vm.pem, vm.key) is written where the plugin reads it.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdvs.plugin.broker_client import BROKER_NAME
from vdvs.plugin.bundle import Bundle, write_bundle
from vdvs.plugin.csr import new_key_request
from vdvs.plugin.identity import PRODUCT_UUID, RPCTOOL

NONCE_QUERY = "info-get guestinfo.vdvs.nonce"
JOIN_TIMEOUT_S = 60.0
TOOL_TIMEOUT_S = 10.0


class JoinError(Exception):
    """The join failed; the message is one line saying why."""


@dataclass(frozen=True)
class Joined:
    vm_name: str
    vmgroup: str
    serial: str
    not_after: str
    bundle_dir: Path


def bios_uuid(path: Path = PRODUCT_UUID) -> str:
    try:
        return str(uuid.UUID(path.read_text().strip()))
    except OSError as exc:
        raise JoinError(f"cannot read this VM's BIOS UUID from {path}: {exc.strerror} (run as root)") from None
    except ValueError:
        raise JoinError(f"{path} does not hold a UUID") from None


def _split(broker: str) -> tuple[str, int]:
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        raise JoinError(f"--broker {broker!r}: give HOST:PORT of the broker's join_listen")
    return host.strip("[]"), int(port)


def pinned_ca(broker: str, sha256: str, timeout_s: float = 10.0) -> bytes:
    """The CA certificate the join listener sends in its chain whose SHA-256 (of the DER) is ``sha256``."""
    wanted = sha256.lower().removeprefix("sha256:").replace(":", "")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing is trusted from this connection but a certificate of that hash
    host, port = _split(broker)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=BROKER_NAME) as tls,
        ):
            chain: list[Any] = tls._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]  # public in Python 3.13
            ders = [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain]  # type: ignore[attr-defined]
    except OSError as exc:
        raise JoinError(f"cannot reach the broker's join service at {broker}: {exc}") from None
    for der in ders:
        if hashlib.sha256(der).hexdigest() == wanted:
            return ssl.DER_cert_to_PEM_cert(der).encode()
    raise JoinError(f"the service at {broker} did not present a CA of SHA-256 {wanted}: not our broker")


def guest_nonce(rpctool: str = RPCTOOL) -> str:
    """What the broker wrote into this VM's guestinfo.vdvs.nonce, read through VMware Tools."""
    try:
        done = subprocess.run(
            [rpctool, NONCE_QUERY], check=False, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
        )
    except FileNotFoundError:
        raise JoinError(f"{rpctool} not found: install open-vm-tools in this VM") from None
    except subprocess.TimeoutExpired:
        raise JoinError(f"{rpctool} did not answer within {TOOL_TIMEOUT_S:g}s") from None
    nonce = done.stdout.strip()
    if done.returncode != 0 or not nonce:
        raise JoinError(f"{rpctool} could not read guestinfo.vdvs.nonce: {done.stderr.strip() or 'empty'}")
    return nonce


def join(broker: str, token: str, ca_pem: bytes, out: Path, name: str, vm_uuid: str, rpctool: str = RPCTOOL) -> Joined:
    import grpc

    from vdvs.proto import join_pb2, join_pb2_grpc
    from vdvs.proto import status as wire_status

    made = new_key_request(name or vm_uuid)
    request = join_pb2.JoinRequest(token=token, bios_uuid=vm_uuid, name=name, csr_pem=made.csr_pem.decode())
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    with grpc.secure_channel(broker, credentials, options=[("grpc.ssl_target_name_override", BROKER_NAME)]) as ch:
        stub = join_pb2_grpc.JoinServiceStub(ch)
        try:
            reply = stub.Join(request, timeout=JOIN_TIMEOUT_S)
            if reply.nonce_required:
                request.nonce = guest_nonce(rpctool)
                reply = stub.Join(request, timeout=JOIN_TIMEOUT_S)
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            remote = wire_status.decode(code.value[0], err.details(), err.trailing_metadata())  # type: ignore[attr-defined]
            if remote.code:
                raise JoinError(remote.message) from None
            raise JoinError(f"cannot join at {broker}: {err.details()}") from None  # type: ignore[attr-defined]
    write_bundle(out, Bundle(reply.ca_pem.encode(), reply.cert_pem.encode(), made.key_pem))
    return Joined(reply.vm_name, reply.vmgroup, reply.serial, reply.not_after, out)
