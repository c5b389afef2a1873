"""Enrollment as the CLI does it: ask the broker for a VM certificate, write the bundle the plugin reads."""

from __future__ import annotations

from pathlib import Path

from vdvs.cli.admin_client import AdminClient, Target
from vdvs.plugin.bundle import Bundle, write_bundle
from vdvs.proto import admin_pb2


def enroll(
    target: Target | Path,
    name: str,
    bios_uuid: str,
    out: Path,
    days: int = 0,
    labels: list[str] | None = None,
    valid_seconds: int = 0,
) -> admin_pb2.EnrollVmResponse:
    request = admin_pb2.EnrollVmRequest(
        name=name, bios_uuid=bios_uuid, valid_days=days, labels=labels or [], valid_seconds=valid_seconds
    )
    with AdminClient(target) as client:
        reply: admin_pb2.EnrollVmResponse = client.call("EnrollVm", request)
    write_bundle(out, Bundle(reply.ca_pem.encode(), reply.cert_pem.encode(), reply.key_pem.encode()))
    return reply


def enroll_folder(target: Target | Path, folder: str, out_dir: Path, days: int = 0) -> list[dict[str, str]]:
    """Enroll every VM of a vSphere folder; write each one's bundle to ``out_dir/<VM name>``. One row per VM."""
    request = admin_pb2.EnrollFolderRequest(folder=folder, valid_days=days)
    with AdminClient(target) as client:
        reply: admin_pb2.EnrollFolderResponse = client.call("EnrollFolder", request)
    rows = []
    for vm in reply.vms:
        bundle = ""
        if not vm.error:
            directory = out_dir / vm.name.replace("/", "_")
            b = vm.bundle
            write_bundle(directory, Bundle(b.ca_pem.encode(), b.cert_pem.encode(), b.key_pem.encode()))
            bundle = str(directory)
        row = {"vm": vm.name, "uuid": vm.bios_uuid, "serial": vm.bundle.serial if not vm.error else ""}
        rows.append({**row, "bundle": bundle, "error": vm.error})
    return rows
