"""How the plugin words transport failures of the broker connection (what Docker shows).

Each case pairs an address in a real state (something listening there, or nothing) with the
details text grpcio 1.85 produced on this host in that situation. A broker that is there but
drops our TLS handshake must be reported as refusing our certificate; a broker that is not
there as unreachable, whatever words the address itself contains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from vdvs.broker.pki import CertificateAuthority
from vdvs.plugin.broker_client import BrokerClient, BrokerError, struct_dict
from vdvs.plugin.bundle import Bundle

LISTENING = "listening"  # a server accepts connections at the address, then drops them
NOBODY = "nobody"  # no socket file at the address
REFUSED = "refused our certificate"
UNREACHABLE = "is unreachable"

CASES = [
    pytest.param(LISTENING, "UNAVAILABLE: unix:{sock}: Socket closed", REFUSED, id="socket-closed"),
    pytest.param(LISTENING, "UNAVAILABLE: unix:{sock}: recvmsg:Connection reset by peer (104)", REFUSED, id="reset"),
    pytest.param(
        LISTENING,
        "UNAVAILABLE: unix:{sock}: Delayed close due to in-progress write (sendmsg: Broken pipe (32))",
        REFUSED,
        id="broken-pipe",
    ),
    pytest.param(
        NOBODY,
        "FAILED_PRECONDITION: unix:{sock}: connect failed: addr: unix:{sock} error: No such file or directory",
        UNREACHABLE,
        id="no-socket",
    ),
]

MakeClient = Callable[[str], BrokerClient]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    ca = CertificateAuthority(Path(tmp_path_factory.mktemp("ca")))
    ca.create()
    issued = ca.issue_vm_cert("vm1", "4c4c4544-0000-1111-2222-333344445555")
    return Bundle(ca.ca_pem(), issued.cert_pem, issued.key_pem)


@pytest.fixture
async def make_client(bundle: Bundle) -> AsyncIterator[MakeClient]:
    made: list[BrokerClient] = []

    def make(address: str) -> BrokerClient:
        client = BrokerClient(address, bundle, retry_budget_s=0.05, bundle_dir="/etc/vdvs/bundle")
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def dropping_server(short_tmp: Path) -> AsyncIterator[Path]:
    """A unix socket in a directory named ``ssl`` that accepts and drops every connection."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    (short_tmp / "ssl").mkdir()
    path = short_tmp / "ssl" / "broker.sock"
    server = await asyncio.start_unix_server(drop, str(path))
    try:
        yield path
    finally:
        server.close()
        await server.wait_closed()


class FailingStub:
    """In place of the client's VolumeService stub: every call fails with ``code`` and ``details``."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)

    def __getattr__(self, method: str) -> Callable[..., None]:
        def call(*args: object, **kwargs: object) -> None:
            raise self.error

        return call


async def failure(client: BrokerClient, code: grpc.StatusCode, details: str) -> BrokerError:
    client._stub = FailingStub(code, details)  # type: ignore[assignment]
    with pytest.raises(BrokerError) as err:
        await asyncio.wait_for(client.get("vol"), 10)
    return err.value


@pytest.mark.parametrize(("state", "last_error", "verdict"), CASES)
async def test_transport_failure_is_worded_by_its_cause(
    make_client: MakeClient, dropping_server: Path, state: str, last_error: str, verdict: str
) -> None:
    sock = dropping_server if state == LISTENING else dropping_server.with_name("nobody.sock")
    address = f"unix://{sock}"
    details = "failed to connect to all addresses; last error: " + last_error.format(sock=sock)
    err = await failure(make_client(address), grpc.StatusCode.UNAVAILABLE, details)
    assert err.message.startswith(f"vSphere volume broker at {address} {verdict}"), err.message
    if verdict == REFUSED:
        assert "bundle: /etc/vdvs/bundle" in err.message
    assert err.grpc_code == grpc.StatusCode.UNAVAILABLE
    assert err.code == 0


async def test_unresolvable_host_named_tls_is_unreachable(make_client: MakeClient) -> None:
    address = "tls-gateway.invalid:7643"
    details = (
        "errors resolving tls-gateway.invalid:7643: [field:hostname lookup error:address lookup failed for "
        "tls-gateway.invalid:7643: Domain name not found]"
    )
    err = await failure(make_client(address), grpc.StatusCode.UNAVAILABLE, details)
    assert err.message.startswith(f"vSphere volume broker at {address} is unreachable: "), err.message


async def test_refused_tcp_port_is_unreachable(make_client: MakeClient) -> None:
    details = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Connection refused"
    err = await failure(make_client("127.0.0.1:1"), grpc.StatusCode.UNAVAILABLE, details)
    assert err.message.startswith("vSphere volume broker at 127.0.0.1:1 is unreachable: "), err.message


async def test_deadline_is_worded_as_no_answer(make_client: MakeClient) -> None:
    client = make_client("unix:///run/vdvs/broker.sock")
    err = await failure(client, grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert err.message == "vSphere volume broker at unix:///run/vdvs/broker.sock did not answer in time"


async def test_other_status_is_not_retried_and_names_the_call(make_client: MakeClient) -> None:
    client = make_client("unix:///run/vdvs/broker.sock")
    err = await failure(client, grpc.StatusCode.INTERNAL, "boom")
    assert err.message == "get failed: boom"


def test_status_struct_reads_as_message_to_dict_does() -> None:
    """Get answers Docker with the broker's Status Struct as plain values: every kind of value the
    Struct can hold comes out as protobuf's own JSON conversion gives it."""
    status = struct_pb2.Struct()
    status.update(
        {
            "capacity": {"size": "100MB", "allocated": "0MB"},
            "status": "attached",
            "attached to VM": "",
            "count": 3,
            "ratio": 0.5,
            "kept": True,
            "none": None,
            "list": [1, "two", {"three": [3.0]}, [], None],
            "empty": {},
        }
    )
    assert struct_dict(status) == json_format.MessageToDict(status)
    assert struct_dict(status)["list"] == [1.0, "two", {"three": [3.0]}, [], None]
