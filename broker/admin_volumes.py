"""AdminService handlers: `volume ls` (every vmgroup's volumes, and orphans) and `volume set`."""

from __future__ import annotations

import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import DiskRef
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.status import sidecar
from vdvs.tenancy.volume_admin import COLUMNS, Orphan, find_volume, list_volume_rows, set_volume_options

COLUMN_MESSAGES = [admin_pb2.VolumeColumn(id=key, header=header) for key, header in COLUMNS]

log = logging.getLogger("vdvs.broker.admin")


class VolumeAdminHandlers(AdminHandlers):
    async def _orphans(self) -> list[Orphan]:
        """Disks on the datastores that no row of the store owns (never deleted, only shown)."""
        disks = await self.ctx.workers.disk(self.ctx.backend.list_disks)
        records = await self.db(self.ctx.store.list_volumes, None, tuple(VolumeState))
        names = {d.url: d.name for d in await self.ctx.inventory.datastores()}
        owned = {(names.get(r.datastore_url), r.vmgroup_id, r.name) for r in records}
        return [
            Orphan(d.datastore, d.vmgroup_id, d.name) for d in disks if (d.datastore, d.vmgroup_id, d.name) not in owned
        ]

    @rpc
    async def VolumeList(self, request: admin_pb2.VolumeListRequest, context: Context) -> admin_pb2.VolumeListResponse:
        infos = await self.ctx.inventory.datastores()
        pattern = request.vmgroup or None
        orphans = await self._orphans() if pattern in (None, "*") else []
        rows = await self.db(
            list_volume_rows,
            self.ctx.store,
            await self.ctx.inventory.refs(),
            {d.name: d.kind for d in infos},
            pattern,
            orphans,
        )
        return admin_pb2.VolumeListResponse(
            rows=[admin_pb2.VolumeRow(columns=row) for row in rows], columns=COLUMN_MESSAGES
        )

    @rpc
    async def VolumeSet(self, request: admin_pb2.VolumeSetRequest, context: Context) -> admin_pb2.VolumeListResponse:
        datastores = await self.datastores()
        record = await self.db(
            set_volume_options, self.ctx.store, datastores, request.volume, request.vmgroup, request.options
        )
        record, datastore = await self.db(find_volume, self.ctx.store, datastores, request.volume, request.vmgroup)
        disk = DiskRef(datastore.name, record.vmgroup_id, record.name)
        try:
            await self.ctx.workers.disk(self.ctx.backend.write_meta, disk, sidecar(record, request.vmgroup))
        except Exception as exc:  # the store is the truth; the sidecar is informative
            log.warning("volume set: could not update metadata of %s: %s", request.volume, exc)
        log.info("admin: set %s on %s (vmgroup %s)", request.options, request.volume, request.vmgroup)
        rows = await self.db(list_volume_rows, self.ctx.store, datastores, {}, request.vmgroup)
        name = record.name
        return admin_pb2.VolumeListResponse(
            rows=[
                admin_pb2.VolumeRow(columns=r) for r in rows if r["volume"] == name and r["datastore"] == datastore.name
            ]
        )
