"""The delegation matrix's case for `vdvs volume move` (issue 14): a vmgroup admin moves its vmgroup's
volumes, between datastores shared into the vmgroup only (its grants reach those); a platform admin
anywhere. The setup (as root) gives the vmgroup create access on local2 and shares local1 into it
(local2 is shared into team=own by the world), and the cleanup moves the volume back and undoes both.
"""

from __future__ import annotations

from tests.delegation.matrix_cases import Ctx, _eq
from vdvs.proto import admin_pb2


def volume(c: Ctx, datastore: str = "local1") -> str:
    return f"vol-{c.scope}@{datastore}"


def setup_move(c: Ctx) -> None:
    c.w.call(
        "AccessAdd",
        admin_pb2.AccessAddRequest(
            name=c.g, datastore="local2", allow_create=True, volume_maxsize="1GB", volume_totalsize="10GB"
        ),
    )
    c.w.call("DatastoreShare", admin_pb2.DatastoreShareRequest(datastore="local1", vmgroup=c.g))


def cleanup_move(c: Ctx) -> None:
    c.w.quietly("VolumeMove", admin_pb2.VolumeMoveRequest(volume=volume(c, "local2"), vmgroup=c.g, to="local1"))
    c.w.quietly("DatastoreUnshare", admin_pb2.DatastoreShareRequest(datastore="local1", vmgroup=c.g))
    c.w.quietly("AccessRemove", admin_pb2.AccessRef(name=c.g, datastore="local2"))


def check_moved(c: Ctx, out: str) -> None:
    _eq(out, f"Successfully moved volume {volume(c)} to {volume(c, 'local2')}")
    reply = c.w.call("VolumeList", admin_pb2.VolumeListRequest(vmgroup=c.g))
    cells = {col.id: [col.values[i] for i in col.index] if col.index else list(col.values) for col in reply.columns}
    _eq(sorted(zip(cells["volume"], cells["datastore"], strict=True)), [(f"vol-{c.scope}", "local2")])


def move_args(c: Ctx) -> tuple[str, ...]:
    return ("volume", "move", "--volume", volume(c), "--to", "local2", "--vmgroup", c.g)
