"""`vdvs vmgroup ...`: vmgroups, their VMs and their datastore access, with vDVS's outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, given, split_list, to_dict
from vdvs.cli.output import emit, table
from vdvs.cli.policy_commands import ALLOWED_POLICIES_HELP, POLICY_COLUMNS, STORAGE_POLICY_HELP, policy_cells
from vdvs.cli.rule_commands import rule

if TYPE_CHECKING:
    from vdvs.proto import admin_pb2

DEFAULT_VMGROUP = "_DEFAULT"
MAX_VOLUMES_HELP = "most volumes the vmgroup may hold on all datastores (0 forbids creating; Unset: no limit)"
VOLUME_COUNT_HELP = "most volumes the vmgroup may hold on the datastore (0 forbids creating; Unset: no limit)"
ALERT_AT_HELP = "percent of the size quota and volume-count limit whose crossing makes an event (Unset: none)"


@click.group()
def vmgroup() -> None:
    """Groups of Docker VMs with their own volume namespace, default datastore, access and quotas."""


vmgroup.add_command(rule)


@vmgroup.command("create")
@click.option("--name", required=True)
@click.option("--default-datastore", required=True, help="a datastore name or _VM_DS (the VM's own)")
@click.option("--description", default="")
@click.option("--vm-list", default="", help="comma-separated VM names")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="a label (repeatable)")
@click.option("--max-volumes", default="", help=MAX_VOLUMES_HELP)
@admin_options
def create(
    name: str,
    default_datastore: str,
    description: str,
    vm_list: str,
    labels: tuple[str, ...],
    max_volumes: str,
    target: Target,
    as_json: bool,
) -> None:
    """Create a vmgroup."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmgroupCreateRequest(
        name=name,
        default_datastore=default_datastore,
        description=description,
        vm_list=split_list(vm_list),
        labels=list(labels),
        max_volumes=max_volumes,
    )
    reply = call(target, as_json, "VmgroupCreate", request)
    text = f"vmgroup '{name}' is created."
    if name != DEFAULT_VMGROUP:
        text += " Do not forget to run 'vmgroup vm add' to add vm to vmgroup."
    emit(to_dict(reply), as_json, text)


@vmgroup.command("ls")
@admin_options
def ls(target: Target, as_json: bool) -> None:
    """List vmgroups."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmgroupList", admin_pb2.VmgroupListRequest())
    rows = [
        [
            g.id,
            g.name,
            g.description,
            g.default_datastore,
            ",".join(vm.name for vm in g.vms),
            _labels(g.labels),
            g.max_volumes,
            g.cascade_delete,
        ]
        for g in reply.vmgroups
    ]
    emit(
        [to_dict(g) for g in reply.vmgroups],
        as_json,
        table(
            ["Uuid", "Name", "Description", "Default_datastore", "VM_list", "Labels", "Max_volumes", "Cascade_delete"],
            rows,
        ),
    )


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


@vmgroup.command("update")
@click.option("--name", required=True)
@click.option("--new-name", default=None)
@click.option("--description", default=None)
@click.option("--default-datastore", default=None)
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="set a label (repeatable); KEY= removes it")
@click.option("--max-volumes", default=None, help=MAX_VOLUMES_HELP)
@click.option(
    "--cascade-delete", default=None, metavar="on|off", help="on: removing a volume removes its snapshots too"
)
@admin_options
def update(
    name: str,
    new_name: str | None,
    description: str | None,
    default_datastore: str | None,
    labels: tuple[str, ...],
    max_volumes: str | None,
    cascade_delete: str | None,
    target: Target,
    as_json: bool,
) -> None:
    """Rename a vmgroup, change its description, default datastore, labels, volume-count limit or cascade-delete."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmgroupUpdateRequest(
        name=name,
        labels=list(labels),
        **given(
            new_name=new_name,
            description=description,
            default_datastore=default_datastore,
            max_volumes=max_volumes,
            cascade_delete=cascade_delete,
        ),
    )
    reply = call(target, as_json, "VmgroupUpdate", request)
    emit(to_dict(reply), as_json, "vmgroup modify succeeded")


@vmgroup.command("rm")
@click.option("--name", required=True)
@click.option("--remove-volumes", is_flag=True, help="also delete the vmgroup's volumes on every datastore")
@click.option("--force", is_flag=True, help="remove even if VMs are still members")
@admin_options
def rm(name: str, remove_volumes: bool, force: bool, target: Target, as_json: bool) -> None:
    """Remove a vmgroup."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmgroupRemoveRequest(name=name, remove_volumes=remove_volumes, force=force)
    reply = call(target, as_json, "VmgroupRemove", request)
    prefix = "All Volumes will be removed. " if remove_volumes else ""
    emit(to_dict(reply), as_json, f"{prefix}vmgroup rm succeeded")


@vmgroup.group("vm")
def vm() -> None:
    """Member VMs of a vmgroup."""


def _vm_command(verb: str, method: str, help_text: str) -> None:
    @vm.command(verb, help=help_text)
    @click.option("--name", required=True)
    @click.option("--vm-list", required=True, help="comma-separated VM names")
    @admin_options
    def command(name: str, vm_list: str, target: Target, as_json: bool) -> None:
        from vdvs.proto import admin_pb2

        request = admin_pb2.VmgroupVmsRequest(name=name, vm_list=split_list(vm_list))
        reply = call(target, as_json, method, request)
        emit(to_dict(reply), as_json, f"vmgroup vm {verb} succeeded")


_vm_command("add", "VmgroupVmAdd", "Add VMs to a vmgroup.")
_vm_command("rm", "VmgroupVmRemove", "Remove VMs from a vmgroup.")
_vm_command("replace", "VmgroupVmReplace", "Replace the VMs of a vmgroup.")


@vm.command("ls")
@click.option("--name", required=True)
@admin_options
def vm_ls(name: str, target: Target, as_json: bool) -> None:
    """List the VMs of a vmgroup."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmgroupVmList", admin_pb2.VmgroupRef(name=name))
    emit(to_dict(reply)["vms"], as_json, table(["Uuid", "Name"], [[v.uuid, v.name] for v in reply.vms]))


@vmgroup.group("access")
def access() -> None:
    """A vmgroup's rights and quotas on datastores."""


def _access_table(rows: list[admin_pb2.Access]) -> str:
    """vDVS's columns and ours; the policy columns when a row has a default or an allowed list."""
    with_policies = any(r.storage_policy or r.allowed_policies for r in rows)
    return table(
        ["Datastore", "Allow_create", "Max_volume_size", "Total_size", "Volume_count", "Alert_at"]
        + (POLICY_COLUMNS if with_policies else []),
        [
            [r.datastore, str(r.allow_create), r.max_volume_size, r.usage_quota, r.volume_count, r.alert_at]
            + (policy_cells(r.storage_policy, r.allowed_policies) if with_policies else [])
            for r in rows
        ],
    )


@access.command("add")
@click.option("--name", required=True)
@click.option("--datastore", required=True, help="a datastore name, _VM_DS or _ALL_DS")
@click.option("--allow-create", is_flag=True, help="allow create and delete (else mount only)")
@click.option("--volume-maxsize", default="", help="largest volume, e.g. 500MB, 10GB")
@click.option("--volume-totalsize", default="", help="total of all volumes on the datastore")
@click.option("--volume-count", default="", help=VOLUME_COUNT_HELP)
@click.option("--alert-at", default="", help=ALERT_AT_HELP)
@click.option("--storage-policy", default="", help=STORAGE_POLICY_HELP)
@click.option("--allowed-policies", default="", help=ALLOWED_POLICIES_HELP)
@admin_options
def access_add(
    name: str,
    datastore: str,
    allow_create: bool,
    volume_maxsize: str,
    volume_totalsize: str,
    volume_count: str,
    alert_at: str,
    storage_policy: str,
    allowed_policies: str,
    target: Target,
    as_json: bool,
) -> None:
    """Grant a vmgroup access to a datastore."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.AccessAddRequest(
        name=name,
        datastore=datastore,
        allow_create=allow_create,
        volume_maxsize=volume_maxsize,
        volume_totalsize=volume_totalsize,
        volume_count=volume_count,
        alert_at=alert_at,
        storage_policy=storage_policy,
        allowed_policies=allowed_policies,
    )
    reply = call(target, as_json, "AccessAdd", request)
    emit(to_dict(reply), as_json, "vmgroup access add succeeded")


@access.command("set")
@click.option("--name", required=True)
@click.option("--datastore", required=True)
@click.option("--allow-create", default=None, help="True or False")
@click.option("--volume-maxsize", default=None, help="e.g. 500MB; Unset removes the limit")
@click.option("--volume-totalsize", default=None, help="e.g. 10GB; Unset removes the limit")
@click.option("--volume-count", default=None, help=VOLUME_COUNT_HELP)
@click.option("--alert-at", default=None, help=ALERT_AT_HELP)
@click.option("--storage-policy", default=None, help=STORAGE_POLICY_HELP)
@click.option("--allowed-policies", default=None, help=ALLOWED_POLICIES_HELP)
@admin_options
def access_set(
    name: str,
    datastore: str,
    allow_create: str | None,
    volume_maxsize: str | None,
    volume_totalsize: str | None,
    volume_count: str | None,
    alert_at: str | None,
    storage_policy: str | None,
    allowed_policies: str | None,
    target: Target,
    as_json: bool,
) -> None:
    """Change a vmgroup's access to a datastore."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.AccessSetRequest(
        name=name,
        datastore=datastore,
        **given(
            allow_create=allow_create,
            volume_maxsize=volume_maxsize,
            volume_totalsize=volume_totalsize,
            volume_count=volume_count,
            alert_at=alert_at,
            storage_policy=storage_policy,
            allowed_policies=allowed_policies,
        ),
    )
    reply = call(target, as_json, "AccessSet", request)
    emit(to_dict(reply), as_json, "vmgroup access set succeeded")


@access.command("rm")
@click.option("--name", required=True)
@click.option("--datastore", required=True)
@admin_options
def access_rm(name: str, datastore: str, target: Target, as_json: bool) -> None:
    """Remove a vmgroup's access to a datastore."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "AccessRemove", admin_pb2.AccessRef(name=name, datastore=datastore))
    emit(to_dict(reply)["rows"], as_json, "vmgroup access rm succeeded")


@access.command("ls")
@click.option("--name", required=True)
@admin_options
def access_ls(name: str, target: Target, as_json: bool) -> None:
    """List a vmgroup's datastore access."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "AccessList", admin_pb2.VmgroupRef(name=name))
    emit(to_dict(reply)["rows"], as_json, _access_table(list(reply.rows)))
