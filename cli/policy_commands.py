"""`vdvs policy create|ls|update|rm`: named vSAN storage policies, with vDVS's outputs; and the policy
cells of the access rows (`vmgroup access ls`, `show permissions`)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table

COLUMNS = ["Policy Name", "Policy Content", "Active", "Volumes"]
POLICY_COLUMNS = ["Storage_policy", "Allowed_policies"]
STORAGE_POLICY_HELP = "the policy of a create here that names none (-o vsan-policy-name); Unset: none"
ALLOWED_POLICIES_HELP = "the only policies a create here may use, a,b (platform admins; Unset: any)"
CONTENT_HELP = 'vSAN policy text, e.g. (("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'


def policy_cells(default: str, allowed: Sequence[str]) -> list[str]:
    return [default or "Unset", ",".join(allowed) or "Any"]


@click.group()
def policy() -> None:
    """vSAN storage policies: created by platform admins, named at create with -o vsan-policy-name."""


@policy.command("create")
@click.option("--name", required=True)
@click.option("--content", required=True, help=CONTENT_HELP)
@admin_options
def policy_create(name: str, content: str, target: Target, as_json: bool) -> None:
    """Create a policy."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "PolicyCreate", admin_pb2.PolicyRequest(name=name, content=content))
    emit(to_dict(reply), as_json, f"Successfully created policy: {reply.name}")


@policy.command("ls")
@admin_options
def policy_ls(target: Target, as_json: bool) -> None:
    """List the policies, and the volumes using each (those of the vmgroups you see)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "PolicyList", admin_pb2.PolicyListRequest())
    rows = [[p.name, p.content, p.active, ", ".join(p.volumes)] for p in reply.policies]
    emit(to_dict(reply).get("policies", []), as_json, table(COLUMNS, rows))


@policy.command("update")
@click.option("--name", required=True)
@click.option("--content", required=True, help=CONTENT_HELP)
@admin_options
def policy_update(name: str, content: str, target: Target, as_json: bool) -> None:
    """Change a policy's content; it is re-applied to the disks using it where the backend can (vSAN)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "PolicyUpdate", admin_pb2.PolicyRequest(name=name, content=content))
    lines = [f"Successfully updated policy {reply.policy.name}"]
    if reply.reapplied:
        lines.append(f"Re-applied to {len(reply.reapplied)} volumes: {', '.join(reply.reapplied)}")
    if reply.recorded:
        lines.append(
            f"Recorded for {len(reply.recorded)} volumes (their backend applies no policy to disks): "
            + ", ".join(reply.recorded)
        )
    if reply.not_attached:
        lines.append(
            f"Not re-applied to {len(reply.not_attached)} volumes attached to no VM (vSphere changes a disk's "
            "policy through the VM holding it; update the policy again while they are attached): "
            + ", ".join(reply.not_attached)
        )
    if reply.failed:
        lines.append(f"Failed to re-apply to {len(reply.failed)} volumes: {'; '.join(reply.failed)}")
    emit(to_dict(reply), as_json, "\n".join(lines))


@policy.command("rm")
@click.option("--name", required=True)
@admin_options
def policy_rm(name: str, target: Target, as_json: bool) -> None:
    """Remove a policy no volume and no access row uses."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "PolicyRemove", admin_pb2.PolicyRef(name=name))
    emit(to_dict(reply), as_json, f"Successfully removed policy: {reply.name}")
