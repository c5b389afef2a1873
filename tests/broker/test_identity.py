"""Who is calling: only the mTLS client certificate says, and only while it is enrolled and not revoked."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import FILESYSTEMS, admin, assert_clean, bounded, refused, status_of
from vdvs.broker.pki import CertificateAuthority
from vdvs.cli.admin_client import AdminError
from vdvs.plugin.broker_client import BROKER_NAME, BrokerClient
from vdvs.plugin.bundle import Bundle
from vdvs.proto import admin_pb2, volume_pb2, volume_pb2_grpc

ATTEMPTS = 25  # fresh connections: the failure's wording varies from one handshake to the next


async def test_certificate_from_another_ca_is_refused(broker_env: BrokerEnv) -> None:
    """The handshake failure reaches the client in several shapes ('Socket closed', 'Broken pipe',
    'Connection reset by peer'); every time, the plugin must say the broker refused our certificate."""
    vm = await broker_env.enroll("vm1")
    rogue = CertificateAuthority(broker_env.root / "rogue-ca")
    rogue.create()
    issued = rogue.issue_vm_cert("vm1", vm.uuid)  # same VM name and uuid, wrong issuer
    bundle = Bundle(vm.bundle.ca_pem, issued.cert_pem, issued.key_pem)
    messages = []
    for _ in range(ATTEMPTS):
        client = BrokerClient(broker_env.address, bundle, retry_budget_s=0.2, bundle_dir="rogue")
        broker_env.clients.append(client)
        started = time.monotonic()
        err = await refused(client.create("data", {}, FILESYSTEMS), 15)
        assert time.monotonic() - started < 5
        assert err.code == 0 and err.grpc_code == grpc.StatusCode.UNAVAILABLE
        messages.append(err.message)
    expected = f"vSphere volume broker at {broker_env.address} refused our certificate"
    wrong = [m for m in messages if not m.startswith(expected)]
    assert wrong == [], f"{len(wrong)} of {ATTEMPTS} refusals reported otherwise, e.g. {wrong[0]!r}"
    assert_clean(broker_env)


async def test_no_client_certificate_fails_unavailable(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    credentials = grpc.ssl_channel_credentials(root_certificates=vm.bundle.ca_pem)
    channel = grpc.aio.secure_channel(
        broker_env.address, credentials, options=[("grpc.ssl_target_name_override", BROKER_NAME)]
    )
    try:
        stub = volume_pb2_grpc.VolumeServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Create(volume_pb2.CreateRequest(name="data"), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.List(volume_pb2.ListRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
    assert_clean(broker_env)


async def test_certificate_of_our_ca_never_enrolled_is_refused(broker_env: BrokerEnv) -> None:
    """Signed by the broker's own CA but not recorded at enrollment (e.g. made with a copied CA key)."""
    vm = await broker_env.enroll("vm1")
    issued = CertificateAuthority(broker_env.config.pki_dir).issue_vm_cert("vm1", vm.uuid)
    client = BrokerClient(broker_env.address, Bundle(vm.bundle.ca_pem, issued.cert_pem, issued.key_pem))
    broker_env.clients.append(client)
    err = await refused(client.create("data", {}, FILESYSTEMS))
    assert (err.code, err.name) == (640, "CERT_UNKNOWN")
    assert err.message == f"Client certificate {issued.serial} was not issued by this broker"
    assert_clean(broker_env)


async def test_revocation_takes_effect_on_the_next_call(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    client = broker_env.client(vm)
    await bounded(client.create("data", {"size": "10mb"}, FILESYSTEMS))  # the connection is up

    reply = await admin(broker_env, "RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=vm.uuid))
    assert list(reply.serials) == [vm.serial]

    for call in (client.list_names(), client.get("data"), client.remove("data"), client.create("x", {}, [])):
        err = await refused(call)
        assert (err.code, err.name) == (641, "CERT_REVOKED")
        assert err.message == f"Certificate {vm.serial} of VM vm1 has been revoked"
    assert [name for name, _, _ in broker_env.rows()] == ["data"]

    # re-enrolling gives the VM a new, working certificate
    again = await broker_env.enroll("vm1", vm.uuid)
    assert again.serial != vm.serial
    assert await bounded(broker_env.client(again).list_names()) == ["data@local1"]


async def test_revoking_one_serial_leaves_the_others(broker_env: BrokerEnv) -> None:
    vm1 = await broker_env.enroll("vm1")
    vm2 = await broker_env.enroll("vm2")
    await admin(broker_env, "RevokeVm", admin_pb2.RevokeVmRequest(serial=vm1.serial))
    err = await refused(broker_env.client(vm1).list_names())
    assert err.code == 641
    assert await bounded(broker_env.client(vm2).list_names()) == []


async def test_the_certificate_alone_names_the_caller(broker_env: BrokerEnv) -> None:
    """No request field names the VM; `created by VM` and the holder are the certificate's VM."""
    for message in (volume_pb2.CreateRequest, volume_pb2.VolumeRef, volume_pb2.ListRequest):
        fields = {f.name for f in message.DESCRIPTOR.fields}
        assert not fields & {"vm", "vm_name", "vm_uuid", "bios_uuid", "caller"}, fields
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))

    await bounded(vm2.create("made-by-vm2", {"size": "10mb"}, FILESYSTEMS))
    assert status_of(await bounded(vm1.get("made-by-vm2")))["created by VM"] == "vm2"
    # an option cannot claim another creator
    err = await refused(vm1.create("spoof", {"created-by": "vm2"}, FILESYSTEMS))
    assert err.code == 610


async def test_enrolled_uuid_cannot_be_enrolled_under_another_name(broker_env: BrokerEnv) -> None:
    """Err.VM_ALREADY_ENROLLED (643): one BIOS uuid is one VM; a second name would share its identity
    (its attachments, its exclusivity) while showing another name in `created by VM`."""
    vm_uuid = str(uuid.uuid4())
    await broker_env.enroll("vm1", vm_uuid)
    with pytest.raises(AdminError) as info:
        await broker_env.enroll("impostor", vm_uuid)
    assert (info.value.code, info.value.name) == (643, "VM_ALREADY_ENROLLED")
    assert f"VM {vm_uuid} is already enrolled under the name vm1" in info.value.message, info.value.message


async def test_unreachable_broker_fails_fast_with_a_clear_message(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    address = f"unix://{broker_env.root / 'no-such-broker.sock'}"
    client = BrokerClient(address, vm.bundle, retry_budget_s=1.5)
    broker_env.clients.append(client)
    started = time.monotonic()
    err = await refused(client.list_names(), 15)
    elapsed = time.monotonic() - started
    assert "unreachable" in err.message, err.message
    assert err.message.startswith(f"vSphere volume broker at {address} is unreachable")
    assert err.grpc_code == grpc.StatusCode.UNAVAILABLE
    assert elapsed < 1.5 + 3.0, elapsed  # retried within its budget, then gave up
