"""`vdvs vm ...` (enrollment, revocation, explain, check) and `vdvs status`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vdvs.cli.admin_client import AdminClient, AdminError, Target
from vdvs.cli.common import admin_options, call, fail, to_dict
from vdvs.cli.output import emit, key_values, table
from vdvs.cli.token_commands import token


@click.group()
def vm() -> None:
    """Enroll Docker VMs (issue their client certificates), revoke them, explain their vmgroup."""


@vm.command("enroll")
@click.argument("name", required=False)
@click.option("--uuid", "bios_uuid", default="", help="the VM's BIOS UUID")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="directory for ca.pem, vm.pem, vm.key")
@click.option("--folder", default="", help="vSphere: enroll every VM of this inventory folder (/DC/vm/docker)")
@click.option(
    "--out-dir", type=click.Path(path_type=Path), default=None, help="with --folder: one bundle directory per VM name"
)
@click.option("--days", type=int, default=0, help="certificate lifetime (default 365)")
@click.option("--valid-seconds", type=int, default=0, hidden=True, help="lifetime in seconds (tests of renewal)")
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="KEY=VALUE, repeatable: what label:KEY=GLOB membership rules match (given: replaces the VM's labels)",
)
@admin_options
def vm_enroll(
    name: str | None,
    bios_uuid: str,
    out: Path | None,
    folder: str,
    out_dir: Path | None,
    days: int,
    valid_seconds: int,
    labels: tuple[str, ...],
    target: Target,
    as_json: bool,
) -> None:
    """Issue VM NAME a client certificate and write its bundle to --out; or, with --folder and --out-dir,
    every VM of a vSphere inventory folder, one bundle directory per VM."""
    if folder or out_dir is not None:
        _enroll_folder(folder, out_dir, days, target, as_json)
        return
    if not name or not bios_uuid or out is None:
        fail(AdminError("give NAME, --uuid and --out (or --folder and --out-dir)"), as_json)
    from vdvs.cli.enroll import enroll

    try:
        reply = enroll(target, name, bios_uuid, out, days, list(labels), valid_seconds)
    except (AdminError, OSError) as exc:
        fail(exc, as_json)
    data = {
        "vm": name,
        "uuid": bios_uuid,
        "serial": reply.serial,
        "not_after": reply.not_after,
        "bundle": str(out),
        "labels": list(labels),
    }
    emit(
        data,
        as_json,
        f"Enrolled VM {name} ({bios_uuid}): certificate {reply.serial} valid until {reply.not_after}, bundle in {out}",
    )


def _enroll_folder(folder: str, out_dir: Path | None, days: int, target: Target, as_json: bool) -> None:
    from vdvs.cli.enroll import enroll_folder

    if not folder or out_dir is None:
        fail(AdminError("give both --folder /DC/vm/FOLDER and --out-dir DIR"), as_json)
    try:
        rows = enroll_folder(target, folder, out_dir, days)
    except (AdminError, OSError) as exc:
        fail(exc, as_json)
    lines = [[r["vm"], r["uuid"], r["serial"] or "-", r["bundle"] or r["error"]] for r in rows]
    emit(
        rows,
        as_json,
        table(["VM", "UUID", "Serial", "Bundle"], lines)
        + f"\n\nEnrolled {sum(bool(r['serial']) for r in rows)} of {len(rows)} VM(s) in {folder}",
    )
    if any(r["error"] for r in rows):
        raise SystemExit(1)


vm.add_command(token)


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


@vm.command("explain")
@click.option("--vm", "vm_name", default="", help="the VM's name")
@click.option("--uuid", "bios_uuid", default="", help="or its BIOS UUID")
@admin_options
def vm_explain(vm_name: str, bios_uuid: str, target: Target, as_json: bool) -> None:
    """Show a VM's effective vmgroup and why: its membership, the rule it matched, and the rules it did not."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmExplain", admin_pb2.VmExplainRequest(vm=vm_name, bios_uuid=bios_uuid))
    lines = [
        ("VM", f"{reply.vm} ({reply.bios_uuid})"),
        ("Vmgroup", reply.vmgroup or "(none)"),
        ("Why", reply.reason),
        ("Facts", ", ".join(reply.facts)),
    ]
    if reply.facts_error:
        lines.append(("Backend", f"could not read the VM: {reply.facts_error}"))
    text = key_values(lines)
    if reply.rules:
        rows = [[str(v.rule.priority), v.rule.vmgroup, v.rule.match, v.verdict] for v in reply.rules]
        text += "\n\n" + table(["Priority", "Vmgroup", "Match", "Verdict"], rows)
    else:
        text += "\n\nNo membership rules."
    emit(to_dict(reply), as_json, text)


@vm.command("check")
@click.option("--vm", "vm_name", default="", help="the VM's name")
@click.option("--uuid", "bios_uuid", default="", help="or its BIOS UUID")
@click.option("--fix", is_flag=True, help="set what is missing (the VM must be powered off)")
@admin_options
def vm_check(vm_name: str, bios_uuid: str, fix: bool, target: Target, as_json: bool) -> None:
    """Check the VM settings its guest needs to find its volumes (vSphere: disk.EnableUUID = TRUE).

    Exits 3 when a setting is missing and was not fixed.
    """
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmCheckRequest(vm=vm_name, bios_uuid=bios_uuid, fix=fix)
    reply = call(target, as_json, "VmCheck", request)
    lines = [("VM", f"{reply.vm} ({reply.bios_uuid})"), ("Power", reply.power_state)]
    for setting in reply.settings:
        state = "set now" if setting.fixed else "ok" if setting.ok else f"needs {setting.want}"
        lines.append((setting.key, f"{setting.have or '(not set)'} [{state}]"))
    lines.append(("Result", reply.summary))
    emit(to_dict(reply), as_json, key_values(lines))
    if not all(s.ok for s in reply.settings):
        raise SystemExit(3)


@vm.command("fence")
@click.option("--vm", "vm_name", required=True, help="an enrolled VM's name or BIOS UUID")
@click.option("--force", is_flag=True, help="power it off although it is powered on (it hangs)")
@admin_options
def vm_fence(vm_name: str, force: bool, target: Target, as_json: bool) -> None:
    """Power a hung Docker VM off through vCenter and detach its volumes, so swarm's tasks can move.

    Refused for a powered-on VM without --force: every container on it stops."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmFence", admin_pb2.VmFenceRequest(vm=vm_name, force=force))
    done = "powered off" if reply.power_state not in ("poweredOff", "gone") else f"was {reply.power_state}"
    detached = ", ".join(reply.detached) or "none"
    emit(to_dict(reply), as_json, f"Fenced VM {reply.vm_name} ({reply.bios_uuid}): {done}; detached: {detached}")


@click.command()
@admin_options
def status(target: Target, as_json: bool) -> None:
    """Show the broker's status (vDVS `status` keys).

    Then the plugin release and protocol level each VM last called with (since the broker started)."""
    from vdvs.cli.version_commands import plugins_seen
    from vdvs.proto import admin_pb2

    items: list[tuple[str, str]]
    data: dict[str, Any]
    try:
        with AdminClient(target) as client:
            reply: Any = client.call("Status", admin_pb2.StatusRequest())
        items = [(kv.key, kv.value) for kv in reply.items]
        lines, plugins = plugins_seen(reply)
        data = {k: v for k, v in items if not k.startswith("===")} | {"Plugins": plugins}
        items += lines
    except AdminError as exc:
        if exc.code:  # the broker answered, and refused this caller
            fail(exc, as_json)
        items = [("=== Service", ""), ("Status", "Stopped"), ("Reason", exc.message)]
        data = {k: v for k, v in items if not k.startswith("===")}
    emit(data, as_json, key_values(items))
