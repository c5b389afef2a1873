"""The floor of a VM's call: a bare grpc.aio unary echo with mutual TLS on a unix socket, using the
broker's own server certificate and CA (so the handshake and the cipher are the broker's), and
nothing else: no identity check, no store, no rule.

    python -m bench.vmpath.floor --pki PKI_DIR --socket PATH

Serves until SIGTERM/SIGINT. Method ``/vdvs.bench.Echo/Echo`` returns the request bytes as they came.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import grpc

from vdvs.broker.pki import CertificateAuthority

SERVICE = "vdvs.bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def serve(pki: Path, socket_path: Path) -> None:
    ca = CertificateAuthority(pki)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])  # as the broker's VolumeService server
    handler = grpc.method_handlers_generic_handler(SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(ca.server_key_path.read_bytes(), ca.server_cert_path.read_bytes())],
        root_certificates=ca.ca_pem(),
        require_client_auth=True,
    )
    if server.add_secure_port(f"unix://{socket_path}", credentials) == 0:
        raise SystemExit(f"floor: cannot listen on {socket_path}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pki", type=Path, required=True, help="the broker's pki dir (from `vdvs config init`)")
    parser.add_argument("--socket", type=Path, required=True)
    opts = parser.parse_args()
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    asyncio.run(serve(opts.pki, opts.socket))


if __name__ == "__main__":
    main()
