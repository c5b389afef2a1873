"""AdminService handlers: `volume ls` (every vmgroup's volumes, and orphans) and `volume set`."""

from __future__ import annotations

import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import DiskRef
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import sidecar
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.volume_admin import (
    COLUMNS,
    Listing,
    find_volume,
    list_volume_rows,
    orphan_columns,
    set_volume_options,
    unsettled_keys,
)

log = logging.getLogger("vdvs.broker.admin")


def column_message(key: str, header: str, cells: list[str]) -> admin_pb2.VolumeColumn:
    """One column, dictionary-encoded (see admin.proto): each distinct cell once, and a number per
    row; a column of distinct cells as it is."""
    distinct = set(cells)
    if len(distinct) == len(cells):
        return admin_pb2.VolumeColumn(id=key, header=header, values=cells)
    values = list(distinct)
    position = {value: i for i, value in enumerate(values)}
    return admin_pb2.VolumeColumn(id=key, header=header, values=values, index=map(position.__getitem__, cells))


def listing_message(columns: list[list[str]]) -> admin_pb2.VolumeListResponse:
    return admin_pb2.VolumeListResponse(
        columns=[column_message(key, header, cells) for (key, header), cells in zip(COLUMNS, columns, strict=True)]
    )


class VolumeListing:
    """One `volume ls` as the store had it (kept in the listings cache while no volume or vmgroup
    row changes: tenancy/store_sqlite.ListingProbe), and the reply last built from it.

    A repeated listing of ten thousand volumes then costs the datastore scan for orphans and
    nothing else: no store read, no rows built, no message built while the orphans found are the
    same. The reply is never changed once built (gRPC only serializes it), so it is shared.
    """

    def __init__(self, listing: Listing, unsettled: frozenset[str] | None) -> None:
        self.listing = listing
        self.unsettled = unsettled  # None: a listing without orphans (a pattern, a delegated admin)
        self._last: tuple[list[list[str]], admin_pb2.VolumeListResponse] | None = None

    @classmethod
    def read(
        cls,
        reader: ConfigStore,
        refs: list[DatastoreRef],
        kinds: dict[str, str],
        pattern: str | None,
        only: set[str] | None,
        with_orphans: bool,
    ) -> VolumeListing:
        """On the admin-read thread: the rows of the vmgroups matching ``pattern`` (among ``only``,
        the ids a delegated admin sees) and, ``with_orphans``, the disks being settled."""
        listing = list_volume_rows(reader, refs, kinds, pattern, only)
        return cls(listing, unsettled_keys(reader, refs) if with_orphans else None)

    def reply(self, disks: list[DiskRef] | None) -> admin_pb2.VolumeListResponse:
        """The reply, given the disks found on the datastores (None: no scan), those no row owns
        listed as orphans. CPU work for a big listing: run it on the admin-read thread."""
        orphans = orphan_columns(self.listing, self.unsettled, disks) if self.unsettled is not None and disks else []
        if self._last is not None and self._last[0] == orphans:
            return self._last[1]
        columns = self.listing.columns
        if orphans and any(orphans):
            columns = [rows + more for rows, more in zip(columns, orphans, strict=True)]
        message = listing_message(columns)
        self._last = (orphans, message)
        return message


class VolumeAdminHandlers(AdminHandlers):
    """Listings run on the admin-read thread with its own store connection (see admin_context)."""

    @rpc
    async def VolumeList(self, request: admin_pb2.VolumeListRequest, context: Context) -> admin_pb2.VolumeListResponse:
        infos = await self.ctx.inventory.datastores()
        refs = [DatastoreRef(d.name, d.url) for d in infos]
        kinds = {d.name: d.kind for d in infos}
        pattern = request.vmgroup or None
        only = self.caller().access.visible_ids()  # None: a platform admin's, every vmgroup
        async with self.ctx.listing:
            # orphans only in a platform admin's listings of every vmgroup, as in vDVS; the datastore scan
            # comes first, so a volume created meanwhile has its row by the time the rows are read (a
            # kept listing is of the rows as they are now, after the scan)
            everything = pattern in (None, "*") and only is None
            disks = await self.ctx.workers.disk(self.ctx.backend.list_disks) if everything else None
            key = ("volume ls", tuple(refs), tuple(sorted(kinds.items())), pattern, frozenset(only or ()), only is None)
            listed = await self.ctx.listings.read(
                key, lambda: self.read(VolumeListing.read, refs, kinds, pattern, only, everything)
            )
            return await self.ctx.workers.admin_read(listed.reply, disks)

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
        listing = await self.read(list_volume_rows, datastores, {}, request.vmgroup)
        rows = [row for row in listing.rows() if row[0] == record.name and row[1] == datastore.name]
        return listing_message([list(column) for column in zip(*rows, strict=True)] or [[] for _ in COLUMNS])
