"""`vdvs vm ...` (enrollment, revocation) and `vdvs status`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vdvs.cli.admin_client import AdminClient, AdminError, Target
from vdvs.cli.common import admin_options, fail
from vdvs.cli.output import emit, key_values


@click.group()
def vm() -> None:
    """Enroll Docker VMs with the broker (issue their client certificates) and revoke them."""


@vm.command("enroll")
@click.argument("name")
@click.option("--uuid", "bios_uuid", required=True, help="the VM's BIOS UUID")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory for ca.pem, vm.pem, vm.key")
@click.option("--days", type=int, default=0, help="certificate lifetime (default 365)")
@admin_options
def vm_enroll(name: str, bios_uuid: str, out: Path, days: int, target: Target, as_json: bool) -> None:
    """Issue VM NAME a client certificate and write its bundle to --out."""
    from vdvs.cli.enroll import enroll

    try:
        reply = enroll(target, name, bios_uuid, out, days)
    except (AdminError, OSError) as exc:
        fail(exc, as_json)
    data = {
        "vm": name,
        "uuid": bios_uuid,
        "serial": reply.serial,
        "not_after": reply.not_after,
        "bundle": str(out),
    }
    emit(
        data,
        as_json,
        f"Enrolled VM {name} ({bios_uuid}): certificate {reply.serial} valid until {reply.not_after}, bundle in {out}",
    )


@vm.command("revoke")
@click.option("--uuid", "bios_uuid", default="", help="revoke every certificate of this VM")
@click.option("--serial", default="", help="revoke one certificate")
@admin_options
def vm_revoke(bios_uuid: str, serial: str, target: Target, as_json: bool) -> None:
    """Revoke VM certificates; the broker refuses them from the next call on."""
    from vdvs.proto import admin_pb2

    try:
        with AdminClient(target) as client:
            reply = client.call("RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=bios_uuid, serial=serial))
    except AdminError as exc:
        fail(exc, as_json)
    serials = list(reply.serials)
    emit({"revoked": serials}, as_json, f"Revoked {len(serials)} certificate(s): {', '.join(serials) or '-'}")


@click.command()
@admin_options
def status(target: Target, as_json: bool) -> None:
    """Show the broker's status (vDVS `status` keys)."""
    from vdvs.proto import admin_pb2

    items: list[tuple[str, str]]
    try:
        with AdminClient(target) as client:
            reply: Any = client.call("Status", admin_pb2.StatusRequest())
        items = [(kv.key, kv.value) for kv in reply.items]
    except AdminError as exc:
        if exc.code:  # the broker answered, and refused this caller
            fail(exc, as_json)
        items = [("=== Service", ""), ("Status", "Stopped"), ("Reason", exc.message)]
    emit({k: v for k, v in items if not k.startswith("===")}, as_json, key_values(items))
