"""AdminService handlers: vmgroups, their labels, VMs and datastore access (rules in tenancy/).

The guard has checked the caller's role on the vmgroup a request names; listings show only the
vmgroups the caller sees, and a delegated admin's commands run with its bounds (tenancy/delegation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import BackendError
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import access, delegation, vmgroups
from vdvs.tenancy.alerts import show_alert_at
from vdvs.tenancy.counts import show_count_limit
from vdvs.tenancy.datastores import datastore_name
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import Labels, parse_labels
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup, VmRecord
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.roles import conceal
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.snapshots import parse_cascade, shown_cascade
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.admin")


def vmgroup_message(
    vmgroup: VmGroup, members: list[VmRecord], datastores: list[DatastoreRef], labels: Labels
) -> admin_pb2.Vmgroup:
    return admin_pb2.Vmgroup(
        id=vmgroup.id,
        name=vmgroup.name,
        description=vmgroup.description,
        default_datastore=datastore_name(vmgroup.default_datastore_url, datastores),
        vms=[admin_pb2.VmEntry(uuid=vm.uuid, name=vm.name) for vm in members],
        labels=labels,
        max_volumes_limit=vmgroup.max_volumes,
        max_volumes=show_count_limit(vmgroup.max_volumes),
        cascade_delete=shown_cascade(vmgroup.cascade_delete),
    )


def access_message(privilege: Privilege, datastores: list[DatastoreRef]) -> admin_pb2.Access:
    return admin_pb2.Access(
        datastore=datastore_name(privilege.datastore_url, datastores),
        allow_create=privilege.allow_create,
        max_volume_size_mb=privilege.max_volume_size_mb,
        usage_quota_mb=privilege.usage_quota_mb,
        max_volume_size=format_admin_size(privilege.max_volume_size_mb),
        usage_quota=format_admin_size(privilege.usage_quota_mb),
        volume_count_limit=privilege.max_volume_count,
        volume_count=show_count_limit(privilege.max_volume_count),
        alert_at_percent=privilege.alert_at,
        alert_at=show_alert_at(privilege.alert_at),
        storage_policy=privilege.storage_policy or "",
        allowed_policies=privilege.allowed_policies,
    )


def _member_uuids(store: ConfigStore, name: str) -> set[str]:
    vmgroup = store.get_vmgroup_by_name(name)
    return {vm.uuid for vm in store.vms_of(vmgroup.id)} if vmgroup else set()


def _vmgroups_and_members(
    reader: ConfigStore,
) -> tuple[list[VmGroup], dict[str, list[VmRecord]], dict[str, dict[str, str]]]:
    return reader.list_vmgroups(), reader.memberships(), reader.all_labels()


class VmgroupHandlers(AdminHandlers):
    async def _vmgroup_reply(self, vmgroup: VmGroup) -> admin_pb2.Vmgroup:
        members = await self.db(self.ctx.store.vms_of, vmgroup.id)
        labels = await self.db(self.ctx.store.labels_of, vmgroup.id)
        return vmgroup_message(vmgroup, members, await self.ctx.inventory.refs(), labels)

    async def _vm_list(self, name: str) -> admin_pb2.VmList:
        refs = await self.db(vmgroups.list_vms, self.ctx.store, name)
        return admin_pb2.VmList(vms=[admin_pb2.VmEntry(uuid=r.uuid, name=r.name) for r in refs])

    async def _access_rows(self, name: str) -> admin_pb2.AccessRows:
        rows = await self.db(access.list_access, self.ctx.store, name)
        datastores = await self.ctx.inventory.refs()
        return admin_pb2.AccessRows(rows=[access_message(p, datastores) for p in rows])

    async def _tidy(self, fn: Callable[..., None], *args: str) -> None:
        """Datastore housekeeping after a committed change: never fails the command."""
        try:
            await self.ctx.workers.disk(fn, *args)
        except (BackendError, OSError, VdvsError) as exc:
            log.warning("admin: datastore tidy-up (%s) failed: %s", fn.__name__, exc)

    # ------------------------------------------------------------------ vmgroups
    @rpc
    async def VmgroupCreate(self, request: admin_pb2.VmgroupCreateRequest, context: Context) -> admin_pb2.Vmgroup:
        datastores = await self.datastores()
        caller = self.caller().access
        try:
            vmgroup = await self.db(
                delegation.create_vmgroup,
                self.ctx.store,
                datastores,
                caller,
                request.name,
                request.default_datastore,
                request.description,
                list(request.vm_list),
                parse_labels(request.labels),
                request.max_volumes,
            )
        except VdvsError as exc:
            raise conceal(exc, caller) from None
        log.info("admin: created vmgroup %s", vmgroup.name)
        reply = await self._vmgroup_reply(vmgroup)
        await self._moved({vm.uuid for vm in reply.vms})  # they left _DEFAULT
        return reply

    @rpc
    async def VmgroupList(
        self, request: admin_pb2.VmgroupListRequest, context: Context
    ) -> admin_pb2.VmgroupListResponse:
        groups, members, labels = await self.read(_vmgroups_and_members)
        datastores = await self.ctx.inventory.refs()
        caller = self.caller().access
        return admin_pb2.VmgroupListResponse(
            vmgroups=[
                vmgroup_message(g, members.get(g.id, []), datastores, labels.get(g.id, {}))
                for g in groups
                if caller.sees(g.id)
            ]
        )

    @rpc
    async def VmgroupUpdate(self, request: admin_pb2.VmgroupUpdateRequest, context: Context) -> admin_pb2.Vmgroup:
        cascade = parse_cascade(request.cascade_delete) if request.HasField("cascade_delete") else None
        vmgroup = await self.db(
            delegation.update_vmgroup,
            self.ctx.store,
            await self.datastores(),
            self.caller().access,
            request.name,
            new_name=request.new_name if request.HasField("new_name") else None,
            description=request.description if request.HasField("description") else None,
            default_datastore=request.default_datastore if request.HasField("default_datastore") else None,
            labels=parse_labels(request.labels, removals=True),
            max_volumes=request.max_volumes if request.HasField("max_volumes") else None,
        )
        if cascade is not None:  # snapshots: whether removing a volume removes them too
            await self.db(self.ctx.store.set_cascade_delete, vmgroup.id, cascade)
            vmgroup = replace(vmgroup, cascade_delete=cascade)
        if vmgroup.name != request.name:
            await self._tidy(self.ctx.backend.vmgroup_renamed, vmgroup.id, request.name, vmgroup.name)
        log.info("admin: updated vmgroup %s", vmgroup.name)
        return await self._vmgroup_reply(vmgroup)

    @rpc
    async def VmgroupRemove(
        self, request: admin_pb2.VmgroupRemoveRequest, context: Context
    ) -> admin_pb2.VmgroupRemoveResponse:
        """Delete the vmgroup; with --remove-volumes its disks first. Any failed delete keeps the vmgroup."""
        vmgroup, volumes = await self.db(
            vmgroups.check_remove, self.ctx.store, request.name, request.remove_volumes, request.force
        )
        await self.ctx.inventory.datastores(refresh=True)
        removed, failures = [], []
        for volume in sorted(volumes, key=lambda v: v.parent_id is None):  # snapshots before their volumes
            name = VolumeName(volume.name, self.ctx.inventory.cached_name(volume.datastore_url) or volume.datastore_url)
            try:
                await self.ctx.volumes.remove_as_admin(volume, name)
                removed.append(name.full)
            except VdvsError as exc:
                failures.append(exc.message)
        if failures:
            raise VdvsError(Err.INTERNAL_ERROR, "; ".join(failures))
        members = await self.db(self.ctx.store.vms_of, vmgroup.id)
        await self.db(vmgroups.finish_remove, self.ctx.store, vmgroup)
        await self._moved({vm.uuid for vm in members})
        await self._tidy(self.ctx.backend.vmgroup_removed, vmgroup.id, vmgroup.name)
        log.info("admin: removed vmgroup %s (%d volumes)", vmgroup.name, len(removed))
        return admin_pb2.VmgroupRemoveResponse(removed_volumes=removed)

    # ------------------------------------------------------------------ membership
    async def _change_members(self, change: Callable[..., None], request: admin_pb2.VmgroupVmsRequest) -> None:
        """Apply a membership change; the VMs that moved lose their idle attachments (in-use ones stay,
        detachable by their holder: vDVS refused to move a VM with volumes mounted, and so does vdvs)."""
        before = await self.db(_member_uuids, self.ctx.store, request.name)
        try:
            await self.db(change, self.ctx.store, request.name, list(request.vm_list))
        except VdvsError as exc:  # a VM in a vmgroup the caller cannot see is one it cannot find
            raise conceal(exc, self.caller().access) from None
        after = await self.db(_member_uuids, self.ctx.store, request.name)
        await self._moved(before ^ after)

    async def _moved(self, vm_uuids: set[str]) -> None:
        for vm_uuid in sorted(vm_uuids):
            detached = await self.ctx.attach.release_vm(vm_uuid, idle_only=True)
            if detached:
                log.info("admin: VM %s changed vmgroup; detached its idle %s", vm_uuid, ", ".join(detached))

    @rpc
    async def VmgroupVmAdd(self, request: admin_pb2.VmgroupVmsRequest, context: Context) -> admin_pb2.VmList:
        await self._change_members(vmgroups.add_vms, request)
        return await self._vm_list(request.name)

    @rpc
    async def VmgroupVmRemove(self, request: admin_pb2.VmgroupVmsRequest, context: Context) -> admin_pb2.VmList:
        await self._change_members(vmgroups.remove_vms, request)
        return await self._vm_list(request.name)

    @rpc
    async def VmgroupVmReplace(self, request: admin_pb2.VmgroupVmsRequest, context: Context) -> admin_pb2.VmList:
        await self._change_members(vmgroups.replace_vms, request)
        return await self._vm_list(request.name)

    @rpc
    async def VmgroupVmList(self, request: admin_pb2.VmgroupRef, context: Context) -> admin_pb2.VmList:
        return await self._vm_list(request.name)

    # ------------------------------------------------------------------ access
    @rpc
    async def AccessAdd(self, request: admin_pb2.AccessAddRequest, context: Context) -> admin_pb2.Access:
        datastores = await self.datastores()
        privilege = await self.db(
            delegation.add_access,
            self.ctx.store,
            datastores,
            self.caller().access,
            request.name,
            request.datastore,
            request.allow_create,
            request.volume_maxsize,
            request.volume_totalsize,
            request.volume_count,
            request.alert_at,
            request.storage_policy,
            request.allowed_policies,
        )
        return access_message(privilege, datastores)

    @rpc
    async def AccessSet(self, request: admin_pb2.AccessSetRequest, context: Context) -> admin_pb2.Access:
        datastores = await self.datastores()
        privilege = await self.db(
            delegation.set_access,
            self.ctx.store,
            datastores,
            self.caller().access,
            request.name,
            request.datastore,
            request.allow_create if request.HasField("allow_create") else None,
            request.volume_maxsize if request.HasField("volume_maxsize") else None,
            request.volume_totalsize if request.HasField("volume_totalsize") else None,
            request.volume_count if request.HasField("volume_count") else None,
            request.alert_at if request.HasField("alert_at") else None,
            request.storage_policy if request.HasField("storage_policy") else None,
            request.allowed_policies if request.HasField("allowed_policies") else None,
        )
        return access_message(privilege, datastores)

    @rpc
    async def AccessRemove(self, request: admin_pb2.AccessRef, context: Context) -> admin_pb2.AccessRows:
        await self.db(access.remove_access, self.ctx.store, await self.datastores(), request.name, request.datastore)
        return await self._access_rows(request.name)

    @rpc
    async def AccessList(self, request: admin_pb2.VmgroupRef, context: Context) -> admin_pb2.AccessRows:
        return await self._access_rows(request.name)
