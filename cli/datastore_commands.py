"""`vdvs datastore ...`: the datastores the backend knows, and their sharing into vmgroups with ceilings."""

from __future__ import annotations

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table


@click.group()
def datastore() -> None:
    """Datastores, and their sharing into vmgroups with ceilings for the vmgroups' admins."""


def _share_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--selector", default="", metavar="K=V[,K=V]", help="into every vmgroup whose labels match")(fn)
    fn = click.option("--vmgroup", default="", help="into one vmgroup")(fn)
    return click.option("--datastore", required=True, help="a datastore name, or _VM_DS (each VM's own)")(fn)


def _scope(vmgroup: str, selector: str) -> str:
    return f"vmgroup {vmgroup}" if vmgroup else f"selector {selector}"


@datastore.command("share")
@_share_options
@click.option("--max-volume-size", default="", help="ceiling of a vmgroup admin's volume-maxsize (e.g. 10GB)")
@click.option("--max-total", default="", help="ceiling of a vmgroup admin's volume-totalsize (e.g. 1TB)")
@admin_options
def share(
    datastore: str, vmgroup: str, selector: str, max_volume_size: str, max_total: str, target: Target, as_json: bool
) -> None:
    """Share a datastore into a vmgroup (or the vmgroups a selector picks), or change its ceilings."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.DatastoreShareRequest(
        datastore=datastore, vmgroup=vmgroup, selector=selector, max_volume_size=max_volume_size, max_total=max_total
    )
    reply = call(target, as_json, "DatastoreShare", request)
    text = (
        f"Shared datastore {reply.datastore} with {_scope(reply.vmgroup, reply.selector)}: "
        f"max-volume-size {reply.max_volume_size}, max-total {reply.max_total}"
    )
    emit(to_dict(reply), as_json, text)


@datastore.command("unshare")
@_share_options
@admin_options
def unshare(datastore: str, vmgroup: str, selector: str, target: Target, as_json: bool) -> None:
    """Stop sharing a datastore (access rows already given stay until removed)."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.DatastoreShareRequest(datastore=datastore, vmgroup=vmgroup, selector=selector)
    reply = call(target, as_json, "DatastoreUnshare", request)
    emit(to_dict(reply), as_json, f"Unshared datastore {reply.datastore} from {_scope(reply.vmgroup, reply.selector)}")


@datastore.command("ls")
@admin_options
def ls(target: Target, as_json: bool) -> None:
    """List datastores with their sharing (a vmgroup admin: those shared into its vmgroups)."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "DatastoreList", admin_pb2.DatastoreListRequest())
    rows = []
    for entry in reply.datastores:
        for s in entry.shares:
            shared = _scope(s.vmgroup, s.selector)
            rows.append([entry.name, entry.kind, shared, s.max_volume_size, s.max_total, ",".join(s.vmgroups)])
        if not entry.shares:
            rows.append([entry.name, entry.kind, "-", "", "", ""])
    headers = ["Datastore", "Kind", "Shared_with", "Max_volume_size", "Max_total", "Vmgroups"]
    emit([to_dict(d) for d in reply.datastores], as_json, table(headers, rows))
