"""`vdvs volume extend`: grow a volume (issue 14, online extend).

Two ways in, one rule engine behind them (the broker's tenancy/extend.py):

- an admin names the volume and its vmgroup: ``vdvs volume extend --volume v@ds --vmgroup G --size 2gb``
  (AdminService VolumeExtend, audited like the other admin verbs);
- in a Docker VM, with no admin credentials: ``vdvs volume extend NAME --size 2gb`` asks the local
  plugin on its socket (``POST /vdvs/Extend``), which calls the broker as this VM (its certificate)
  and grows the filesystem at once if the volume is mounted here.
"""

from __future__ import annotations

from pathlib import Path

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, fail, to_dict
from vdvs.cli.output import emit

PLUGIN_SOCKET = Path("/run/docker/plugins/vsphere.sock")


@click.command("extend")
@click.argument("name", required=False)
@click.option("--volume", "volume_name", default=None, help="admin: volume@datastore")
@click.option("--vmgroup", default="_DEFAULT", show_default=True, help="admin: the volume's vmgroup")
@click.option("--size", required=True, help="the new size, larger than the current one: 2gb, 500mb")
@click.option("--plugin-socket", type=click.Path(path_type=Path), default=PLUGIN_SOCKET, show_default=True,
              envvar="VDVS_PLUGIN_SOCKET", help="in a VM: the vdvs plugin's socket")  # fmt: skip
@admin_options
def extend(
    name: str | None,
    volume_name: str | None,
    vmgroup: str,
    size: str,
    plugin_socket: Path,
    target: Target,
    as_json: bool,
) -> None:
    """Grow a volume: NAME in a Docker VM (through the local plugin), or --volume v@ds as an admin.

    Quota and max-size rules apply; a volume never shrinks. A mounted volume's filesystem grows
    online: at once through the plugin, within the plugin's watch interval (10 s) after an admin's
    extend, else at its next mount."""
    if (name is None) == (volume_name is None):
        fail(click.UsageError("give the volume: NAME (in a Docker VM) or --volume v@ds (as an admin), not both"),
             as_json)  # fmt: skip
    if volume_name is not None:
        from vdvs.proto import admin_pb2

        request = admin_pb2.VolumeExtendRequest(volume=volume_name, vmgroup=vmgroup, size=size)
        reply = call(target, as_json, "VolumeExtend", request)
        held = f" (mounted by VM {reply.attached_to}: its plugin grows the filesystem)" if reply.attached_to else ""
        emit(to_dict(reply), as_json, f"Extended {reply.volume} from {reply.old_size} to {reply.new_size}{held}")
        return
    assert name is not None
    from vdvs.cli.plugin_socket import PluginCallError, plugin_extend

    try:
        body = plugin_extend(plugin_socket, name, size)
    except PluginCallError as exc:
        fail(exc, as_json)
    capacity = ((body.get("Status") or {}).get("capacity") or {}).get("size") or f"{body.get('CapacityMB')}MB"
    emit(body, as_json, f"Extended {body.get('Name')} to {capacity}; filesystem {body.get('Filesystem')}")
