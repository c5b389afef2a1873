"""Adding a proto field never breaks an older peer: 0.1.0's generated code (tests/fixtures/proto_v1),
run in a process of its own, reads what this tree writes and the other way round, and calls a broker
of this tree over mTLS with its own stubs."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from typing import Any

from google.protobuf import descriptor_pb2

from testkit.broker_env import BrokerEnv
from testkit.release_v1 import fixture_argv
from vdvs.proto import admin_pb2, errors_pb2, join_pb2, login_pb2, volume_pb2

MODULES = {"admin": admin_pb2, "errors": errors_pb2, "join": join_pb2, "login": login_pb2, "volume": volume_pb2}
OLD_TIMEOUT_S = 60.0


def run_old(code: str, stdin: bytes = b"") -> str:
    done = subprocess.run(fixture_argv(code), input=stdin, capture_output=True, timeout=OLD_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode()


def old_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """0.1.0's .proto files as protobuf describes them, read in the old process."""
    code = (
        "import base64, json\n"
        "from vdvs.proto import admin_pb2, errors_pb2, join_pb2, login_pb2, volume_pb2\n"
        "mods = dict(admin=admin_pb2, errors=errors_pb2, join=join_pb2, login=login_pb2, volume=volume_pb2)\n"
        "assert all(m.__file__.find('fixtures/proto_v1') > 0 for m in mods.values())\n"
        "print(json.dumps({k: base64.b64encode(m.DESCRIPTOR.serialized_pb).decode() for k, m in mods.items()}))\n"
    )
    raw = json.loads(run_old(code))
    return {name: descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(data)) for name, data in raw.items()}


def fields(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[str, int], tuple[str, int, int, str]]:
    """(message, field number) -> (name, type, label, type name), nested messages included."""
    found: dict[tuple[str, int], tuple[str, int, int, str]] = {}

    def walk(prefix: str, messages: Any) -> None:
        for message in messages:
            name = f"{prefix}{message.name}"
            for f in message.field:
                found[(name, f.number)] = (f.name, f.type, f.label, f.type_name)
            walk(f"{name}.", message.nested_type)

    walk("", file.message_type)
    return found


def test_every_field_of_0_1_0_keeps_its_number_name_and_type() -> None:
    """Fields are only ever appended: what 0.1.0 sends means the same here, and the reverse."""
    old = old_files()
    assert sorted(old) == sorted(MODULES)
    for name, module in MODULES.items():
        new_file = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        old_fields, new_fields = fields(old[name]), fields(new_file)
        changed = {key: (was, new_fields.get(key)) for key, was in old_fields.items() if new_fields.get(key) != was}
        assert changed == {}, f"{name}.proto changed or dropped fields of 0.1.0: {changed}"
        old_methods = {(s.name, m.name, m.input_type, m.output_type) for s in old[name].service for m in s.method}
        new_methods = {(s.name, m.name, m.input_type, m.output_type) for s in new_file.service for m in s.method}
        assert old_methods <= new_methods, f"{name}.proto dropped or changed RPCs: {old_methods - new_methods}"


def test_an_old_peer_reads_a_new_message_and_a_new_peer_an_old_one() -> None:
    new = admin_pb2.StatusResponse(
        items=[admin_pb2.KeyValue(key="Version", value="x")],
        plugins=[admin_pb2.PluginSeen(vm_name="vm1", version="0.2.0", protocol=2, declared=True)],
    )
    code = (
        "import sys\n"
        "from vdvs.proto import admin_pb2\n"
        "reply = admin_pb2.StatusResponse.FromString(sys.stdin.buffer.read())\n"
        "print([(kv.key, kv.value) for kv in reply.items])\n"  # the fields it knows, intact
        "sys.stdout.flush()\n"
        "sys.stdout.buffer.write(reply.SerializeToString())\n"  # and what it forwards keeps the rest
    )
    out = subprocess.run(fixture_argv(code), input=new.SerializeToString(), capture_output=True,
                         timeout=OLD_TIMEOUT_S, check=True).stdout  # fmt: skip
    shown, _, forwarded = out.partition(b"\n")
    assert shown == b"[('Version', 'x')]"
    assert admin_pb2.StatusResponse.FromString(forwarded) == new

    old_bytes = base64.b64decode(run_old(
        "import base64\nfrom vdvs.proto import admin_pb2\n"
        "print(base64.b64encode(admin_pb2.StatusResponse(items=[admin_pb2.KeyValue(key='Version', value='0.1.0')])"
        ".SerializeToString()).decode())\n"
    ))  # fmt: skip
    read = admin_pb2.StatusResponse.FromString(old_bytes)
    assert [(kv.key, kv.value) for kv in read.items] == [("Version", "0.1.0")]
    assert list(read.plugins) == []  # the field 0.1.0 does not have: empty


OLD_STUB = """
import asyncio, json, sys
from pathlib import Path
import grpc
from vdvs.proto import admin_pb2, admin_pb2_grpc, volume_pb2, volume_pb2_grpc

assert "fixtures/proto_v1" in volume_pb2.__file__, volume_pb2.__file__

async def main(address, bundle, admin_socket):
    b = Path(bundle)
    creds = grpc.ssl_channel_credentials((b / "ca.pem").read_bytes(), (b / "vm.key").read_bytes(),
                                         (b / "vm.pem").read_bytes())
    name = [("grpc.ssl_target_name_override", "vdvs-broker")]
    async with grpc.aio.secure_channel(address, creds, options=name) as ch:
        stub = volume_pb2_grpc.VolumeServiceStub(ch)
        created = await stub.Create(volume_pb2.CreateRequest(name="old", host_filesystems=["ext4"]), timeout=60)
        got = await stub.Get(volume_pb2.VolumeRef(name="old"), timeout=60)
        names = await stub.List(volume_pb2.ListRequest(), timeout=60)
        try:
            await stub.Get(volume_pb2.VolumeRef(name="missing"), timeout=60)
            refusal = ""
        except grpc.aio.AioRpcError as err:
            refusal = f"{err.code().name}: {err.details()}"
    async with grpc.aio.insecure_channel(f"unix://{admin_socket}") as ch:
        status = await admin_pb2_grpc.AdminServiceStub(ch).Status(admin_pb2.StatusRequest(), timeout=60)
    print(json.dumps({"created": created.full_name, "status": got.status["status"], "names": list(names.names),
                      "refusal": refusal, "items": {kv.key: kv.value for kv in status.items}}))

asyncio.run(main(*sys.argv[1:]))
"""


async def test_0_1_0_stubs_call_this_broker(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm-old")
    argv = [*fixture_argv(OLD_STUB), broker_env.address, str(vm.bundle_dir), str(broker_env.admin_socket)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), OLD_TIMEOUT_S)
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    seen = json.loads(out)
    assert (seen["created"], seen["status"], seen["names"]) == ("old@local1", "detached", ["old@local1"])
    assert seen["refusal"].startswith("NOT_FOUND: Volume missing not found")
    assert seen["items"]["Status"] == "Running" and "Protocol" in seen["items"]
    reply: Any = await asyncio.to_thread(broker_env.admin, "Status", admin_pb2.StatusRequest())
    assert [(p.vm_name, p.version, p.protocol, p.declared) for p in reply.plugins] == [("vm-old", "0.1.0", 1, False)]
