"""AdminService handlers: datastores shared into vmgroups, with ceilings (rules in tenancy/shares.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import shares
from vdvs.tenancy.datastores import datastore_name
from vdvs.tenancy.labels import Labels
from vdvs.tenancy.model import VM_DS, VM_DS_URL, DatastoreRef, ShareRecord, VmGroup
from vdvs.tenancy.roles import AdminAccess
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.admin")


def share_message(
    share: ShareRecord,
    datastores: Sequence[DatastoreRef],
    vmgroups: Sequence[VmGroup],
    labels: Mapping[str, Labels],
    caller: AdminAccess,
) -> admin_pb2.Share:
    """A share, with the vmgroups it covers now among those the caller sees."""
    names = {g.id: g.name for g in vmgroups}
    covered = [
        g.name
        for g in vmgroups
        if not g.is_default and shares.covers(share, g.id, labels.get(g.id, {})) and caller.sees(g.id)
    ]
    return admin_pb2.Share(
        datastore=datastore_name(share.datastore_url, datastores) or share.datastore_url,
        vmgroup=names.get(share.vmgroup_id, ""),
        selector=share.selector,
        max_volume_size_mb=share.max_volume_size_mb,
        max_total_mb=share.max_total_mb,
        max_volume_size=format_admin_size(share.max_volume_size_mb),
        max_total=format_admin_size(share.max_total_mb),
        vmgroups=sorted(covered),
    )


def _share_context(store: ConfigStore) -> tuple[list[ShareRecord], list[VmGroup], dict[str, dict[str, str]]]:
    return store.shares(), store.list_vmgroups(), store.all_labels()


class ShareHandlers(AdminHandlers):
    async def _reply(self, share: ShareRecord, datastores: list[DatastoreRef]) -> admin_pb2.Share:
        _, vmgroups, labels = await self.db(_share_context, self.ctx.store)
        return share_message(share, datastores, vmgroups, labels, self.caller().access)

    @rpc
    async def DatastoreShare(self, request: admin_pb2.DatastoreShareRequest, context: Context) -> admin_pb2.Share:
        datastores = await self.datastores()
        share = await self.db(
            shares.share_datastore,
            self.ctx.store,
            datastores,
            request.datastore,
            request.vmgroup,
            request.selector,
            request.max_volume_size,
            request.max_total,
        )
        log.info("admin: shared datastore %s with %s", request.datastore, request.vmgroup or request.selector)
        return await self._reply(share, datastores)

    @rpc
    async def DatastoreUnshare(self, request: admin_pb2.DatastoreShareRequest, context: Context) -> admin_pb2.Share:
        datastores = await self.datastores()
        await self.db(
            shares.unshare_datastore, self.ctx.store, datastores, request.datastore, request.vmgroup, request.selector
        )
        log.info("admin: unshared datastore %s from %s", request.datastore, request.vmgroup or request.selector)
        return admin_pb2.Share(datastore=request.datastore, vmgroup=request.vmgroup, selector=request.selector)

    @rpc
    async def DatastoreList(
        self, request: admin_pb2.DatastoreListRequest, context: Context
    ) -> admin_pb2.DatastoreListResponse:
        """Every datastore the backend knows, with its shares (a delegated admin: those shared into
        its vmgroups, and only those)."""
        infos = await self.ctx.inventory.datastores(refresh=True)
        refs = [DatastoreRef(d.name, d.url) for d in infos]
        records, vmgroups, labels = await self.read(_share_context)
        caller = self.caller().access
        entries = [(d.name, d.url, d.kind) for d in sorted(infos, key=lambda d: d.name)]
        entries.append((VM_DS, VM_DS_URL, "each VM's own"))
        found = []
        for name, url, kind in entries:
            messages = [share_message(s, refs, vmgroups, labels, caller) for s in records if s.datastore_url == url]
            if not caller.platform:
                messages = [m for m in messages if m.vmgroups]  # shares into vmgroups it sees, only
                if not messages:
                    continue
            elif url == VM_DS_URL and not messages:
                continue
            found.append(admin_pb2.DatastoreEntry(name=name, url=url, kind=kind, shares=messages))
        return admin_pb2.DatastoreListResponse(datastores=found)
