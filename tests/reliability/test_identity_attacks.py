"""Identity and authority, attacked: a real broker serving VolumeService over TCP (mTLS) and
AdminService on its unix socket. Each test is one attack and what stops it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from testkit.broker_env import BrokerEnv, make_config
from testkit.broker_process import VDVS
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused
from vdvs.broker.pki import VM_URI_PREFIX, CertificateAuthority, serial_hex
from vdvs.broker.server import Broker
from vdvs.broker.setup import init_config
from vdvs.plugin.broker_client import BROKER_NAME, BrokerClient
from vdvs.plugin.bundle import Bundle
from vdvs.proto import admin_pb2, volume_pb2
from vdvs.tenancy.model import CertRecord

REFUSED_CERT = "refused our certificate"


@pytest.fixture
async def tcp_env(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    """The broker env of the other suites, but listening on a real TCP port."""
    config = make_config(short_tmp)
    config.listen = "127.0.0.1:0"
    init_config(config, short_tmp / "broker.toml")
    broker = Broker(config)
    await broker.start()
    env = BrokerEnv(short_tmp, config, broker)
    try:
        yield env
    finally:
        await env.close()


def raw_channel(env: BrokerEnv, ca_pem: bytes, key: bytes | None = None, cert: bytes | None = None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(ca_pem, key, cert)
    return grpc.aio.secure_channel(env.address, credentials, options=[("grpc.ssl_target_name_override", BROKER_NAME)])


async def raw_call(channel: grpc.aio.Channel, method: str, payload: bytes) -> bytes:
    """Send hand-made bytes as a request: fields the .proto does not have, whatever a client likes."""
    call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return bytes(await call(payload, timeout=20))


def field(number: int, value: str) -> bytes:
    """A length-delimited protobuf field."""
    data = value.encode()
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


async def test_no_client_certificate(tcp_env: BrokerEnv) -> None:
    vm = await tcp_env.enroll("vm1")
    channel = raw_channel(tcp_env, vm.bundle.ca_pem)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await raw_call(channel, "/vdvs.v1.VolumeService/Create", field(1, "x"))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
    assert tcp_env.rows() == []


async def test_certificate_from_another_ca(tcp_env: BrokerEnv) -> None:
    vm = await tcp_env.enroll("vm1")
    rogue = CertificateAuthority(tcp_env.root / "rogue")
    rogue.create()
    issued = rogue.issue_vm_cert("vm1", vm.uuid)
    client = BrokerClient(
        tcp_env.address, Bundle(vm.bundle.ca_pem, issued.cert_pem, issued.key_pem), retry_budget_s=0.2
    )
    tcp_env.clients.append(client)
    err = await refused(client.create("x", {}, FILESYSTEMS))
    assert REFUSED_CERT in err.message and err.code == 0
    assert tcp_env.rows() == []


async def test_expired_certificate(tcp_env: BrokerEnv) -> None:
    """Issued with the broker's own CA key, enrolled (its serial recorded, not revoked), but its
    not_after is in the past: the TLS handshake refuses it, and the plugin says why."""
    vm = await tcp_env.enroll("vm1")
    ca_dir = tcp_env.config.pki_dir
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vm1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(VM_URI_PREFIX + vm.uuid)]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    store = tcp_env.store()
    try:
        store.add_cert(
            CertRecord(serial_hex(cert), vm.uuid, "vm1", (now - dt.timedelta(days=1)).isoformat(), False), ""
        )
    finally:
        store.close()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    bundle = Bundle(vm.bundle.ca_pem, cert.public_bytes(serialization.Encoding.PEM), key_pem)
    client = BrokerClient(tcp_env.address, bundle, retry_budget_s=0.2)
    tcp_env.clients.append(client)
    err = await refused(client.create("x", {}, FILESYSTEMS))
    assert REFUSED_CERT in err.message and "our certificate expired on" in err.message, err.message
    assert tcp_env.rows() == []


async def test_revoked_certificate_is_refused_on_the_very_next_call(tcp_env: BrokerEnv) -> None:
    vm = await tcp_env.enroll("vm1")
    client = tcp_env.client(vm)
    await bounded(client.create("kept", {"size": "4mb"}, FILESYSTEMS))
    argv = [VDVS, "vm", "revoke", "--uuid", vm.uuid, "--admin-socket", str(tcp_env.admin_socket)]
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    err = await refused(client.remove("kept"))  # same channel, same TLS session
    assert (err.code, err.name) == (641, "CERT_REVOKED")
    assert [name for name, _, _ in tcp_env.rows()] == ["kept"]


async def test_payload_cannot_name_another_vm_or_vmgroup(tcp_env: BrokerEnv) -> None:
    """vm1 (vmgroup g1) sends requests carrying fields the .proto lacks (another VM's uuid, another
    vmgroup's name), and names reaching for g2's volume; its own identity is used every time."""
    vm1, vm2 = await tcp_env.enroll("vm1"), await tcp_env.enroll("vm2")
    groups = {}
    for group, vm in (("g1", "vm1"), ("g2", "vm2")):
        reply = await admin(
            tcp_env,
            "VmgroupCreate",
            admin_pb2.VmgroupCreateRequest(name=group, default_datastore="local1", vm_list=[vm]),
        )
        groups[group] = reply.id
    await bounded(tcp_env.client(vm2).create("secret", {"size": "4mb"}, FILESYSTEMS))
    smuggled = field(14, vm2.uuid) + field(15, "g2") + field(99, f"urn:vdvs:vm:{vm2.uuid}")
    channel = raw_channel(tcp_env, vm1.bundle.ca_pem, vm1.bundle.key_pem, vm1.bundle.cert_pem)
    try:
        reply = volume_pb2.Volume.FromString(
            await raw_call(channel, "/vdvs.v1.VolumeService/Create", field(1, "mine") + smuggled)
        )
        assert reply.full_name == "mine@local1"
        names = volume_pb2.ListResponse.FromString(
            await raw_call(channel, "/vdvs.v1.VolumeService/List", smuggled)
        ).names
        assert list(names) == ["mine@local1"]
        reaching = [
            "secret",
            "secret@local1",
            f"../{groups['g2']}/secret",
            f"{groups['g2']}/secret",
            "secret@g2",
            f"secret@{groups['g2']}",
        ]
        for name in reaching:
            for method in ("Get", "Attach", "Remove"):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await raw_call(channel, f"/vdvs.v1.VolumeService/{method}", field(1, name) + smuggled)
                assert info.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), (
                    name,
                    method,
                    info.value,
                )
    finally:
        await channel.close()
    store = tcp_env.store()
    try:
        rows = {r.name: r for r in store.list_volumes()}
    finally:
        store.close()
    assert rows["mine"].vmgroup_id == groups["g1"] and rows["mine"].created_by_uuid == vm1.uuid
    assert rows["secret"].vmgroup_id == groups["g2"] and rows["secret"].attached_vm is None


async def test_plugin_certificate_cannot_call_admin_service(tcp_env: BrokerEnv) -> None:
    vm = await tcp_env.enroll("vm1")
    channel = raw_channel(tcp_env, vm.bundle.ca_pem, vm.bundle.key_pem, vm.bundle.cert_pem)
    try:
        for method in ("VmgroupList", "EnrollVm", "RevokeVm", "Status"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await raw_call(channel, f"/vdvs.v1.AdminService/{method}", b"")
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED, (method, info.value)
    finally:
        await channel.close()


async def test_admin_socket_is_root_only(tcp_env: BrokerEnv) -> None:
    """0600 and root-owned; with every directory on the way open to all, `nobody` still cannot connect."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs a process as nobody")
    sock = tcp_env.admin_socket
    info = sock.stat()
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
    os.chmod(tcp_env.root, 0o755)  # only the socket's own mode stands in the way now
    probe = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(sock)!r}); print('CONNECTED')"
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", probe]
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
    assert "CONNECTED" not in done.stdout and "PermissionError" in done.stderr, (done.stdout, done.stderr)
    as_root = await asyncio.to_thread(
        subprocess.run, ["/usr/bin/python3", "-c", probe], capture_output=True, text=True, timeout=30
    )
    assert "CONNECTED" in as_root.stdout, as_root.stderr  # the probe itself works


async def test_keys_and_state_dirs_are_private(tcp_env: BrokerEnv) -> None:
    vm = await tcp_env.enroll("vm1")
    pki = tcp_env.config.pki_dir
    modes = {
        pki: 0o700,
        pki / "ca.key": 0o600,
        pki / "broker.key": 0o600,
        vm.bundle_dir: 0o700,
        vm.bundle_dir / "vm.key": 0o600,
        tcp_env.config.store_path: 0o600,
    }
    wrong = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode))
        for p, mode in modes.items()
        if stat.S_IMODE(p.stat().st_mode) != mode
    }
    assert wrong == {}
    assert all(p.stat().st_uid == os.geteuid() for p in modes)
