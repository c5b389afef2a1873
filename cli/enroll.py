"""Enrollment as the CLI does it: ask the broker for a VM certificate, write the bundle the plugin reads."""

from __future__ import annotations

from pathlib import Path

from vdvs.cli.admin_client import AdminClient, Target
from vdvs.plugin.bundle import Bundle, write_bundle
from vdvs.proto import admin_pb2


def enroll(
    target: Target | Path, name: str, bios_uuid: str, out: Path, days: int = 0, labels: list[str] | None = None
) -> admin_pb2.EnrollVmResponse:
    request = admin_pb2.EnrollVmRequest(name=name, bios_uuid=bios_uuid, valid_days=days, labels=labels or [])
    with AdminClient(target) as client:
        reply: admin_pb2.EnrollVmResponse = client.call("EnrollVm", request)
    write_bundle(out, Bundle(reply.ca_pem.encode(), reply.cert_pem.encode(), reply.key_pem.encode()))
    return reply
