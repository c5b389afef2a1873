"""AdminService handlers: `volume ls` (every vmgroup's volumes, and orphans) and `volume set`."""

from __future__ import annotations

import asyncio
import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import DiskRef
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import sidecar
from vdvs.tenancy.volume_admin import (
    COLUMNS,
    Orphan,
    find_volume,
    list_volume_rows,
    orphan_rows,
    set_volume_options,
)

COLUMN_MESSAGES = [admin_pb2.VolumeColumn(id=key, header=header) for key, header in COLUMNS]


def listing_message(rows: list[tuple[str, ...]]) -> admin_pb2.VolumeListResponse:
    reply = admin_pb2.VolumeListResponse(columns=COLUMN_MESSAGES)
    reply.cells.extend(cell for row in rows for cell in row)
    return reply


log = logging.getLogger("vdvs.broker.admin")


class VolumeAdminHandlers(AdminHandlers):
    @rpc
    async def VolumeList(self, request: admin_pb2.VolumeListRequest, context: Context) -> admin_pb2.VolumeListResponse:
        infos = await self.ctx.inventory.datastores()
        refs = await self.ctx.inventory.refs()
        pattern = request.vmgroup or None
        if pattern not in (None, "*"):
            listing = await self.db(list_volume_rows, self.ctx.store, refs, {d.name: d.kind for d in infos}, pattern)
            return await self.ctx.workers.disk(listing_message, listing.rows)
        # the datastore scan (for orphans) runs on the pool while the store thread builds the rows
        listing, disks = await asyncio.gather(
            self.db(list_volume_rows, self.ctx.store, refs, {d.name: d.kind for d in infos}, pattern),
            self.ctx.workers.disk(self.ctx.backend.list_disks),
        )
        found = [Orphan(d.datastore, d.vmgroup_id, d.name) for d in disks]
        orphans = await self.db(orphan_rows, self.ctx.store, refs, listing, found)
        # ten thousand rows take tens of milliseconds to encode: not on the event loop
        return await self.ctx.workers.disk(listing_message, listing.rows + orphans)

    @rpc
    async def VolumeSet(self, request: admin_pb2.VolumeSetRequest, context: Context) -> admin_pb2.VolumeListResponse:
        datastores = await self.datastores()
        record = await self.db(
            set_volume_options, self.ctx.store, datastores, request.volume, request.vmgroup, request.options
        )
        record, datastore = await self.db(find_volume, self.ctx.store, datastores, request.volume, request.vmgroup)
        disk = DiskRef(datastore.name, record.vmgroup_id, record.name)
        try:
            await self.ctx.workers.disk(self.ctx.backend.write_meta, disk, sidecar.build(record, request.vmgroup))
        except Exception as exc:  # the store is the truth; the sidecar is informative
            log.warning("volume set: could not update metadata of %s: %s", request.volume, exc)
        log.info("admin: set %s on %s (vmgroup %s)", request.options, request.volume, request.vmgroup)
        listing = await self.db(list_volume_rows, self.ctx.store, datastores, {}, request.vmgroup)
        return listing_message([r for r in listing.rows if r[0] == record.name and r[1] == datastore.name])
