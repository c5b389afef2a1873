"""AdminService handlers: join tokens (`vdvs vm token create|ls|rm`) and enrolling a folder of VMs.

A token is made for one vmgroup by that vmgroup's admins; its secret is shown once, in the reply to
its creation, and only a hash of it is stored (tenancy/join_tokens.py). Listing and removing show
and touch only the tokens of vmgroups the caller administers: another vmgroup's token is unknown.
"""

from __future__ import annotations

import time

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.admin_enroll import enroll_reply
from vdvs.broker.backends.base import BackendError, VmInfo
from vdvs.broker.enrollment import Enrollment, Lifetime
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import join_tokens, vmgroups
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.join_tokens import JoinToken
from vdvs.tenancy.roles import Role


def token_entry(token: JoinToken, vmgroup_names: dict[str, str]) -> admin_pb2.JoinTokenEntry:
    return admin_pb2.JoinTokenEntry(
        id=token.id,
        vmgroup=vmgroup_names.get(token.vmgroup_id, token.vmgroup_id),
        uses=token.max_uses,
        used=token.used,
        expires=token.expires_text(),
        created=join_tokens.when(token.created),
        created_by=token.created_by,
    )


class TokenHandlers(AdminHandlers):
    async def _names(self) -> dict[str, str]:
        return {g.id: g.name for g in await self.db(self.ctx.store.list_vmgroups)}

    @rpc
    async def JoinTokenCreate(
        self, request: admin_pb2.JoinTokenCreateRequest, context: Context
    ) -> admin_pb2.JoinTokenCreateResponse:
        uses = join_tokens.check_uses(request.uses)
        ttl_s = join_tokens.parse_ttl(request.ttl)
        vmgroup = await self.db(vmgroups.require_vmgroup, self.ctx.store, request.vmgroup)
        made = join_tokens.new_token(vmgroup.id, uses, ttl_s, time.time(), self.caller().principal)
        await self.db(self.ctx.store.add_join_token, made.token)
        return admin_pb2.JoinTokenCreateResponse(
            entry=token_entry(made.token, {vmgroup.id: vmgroup.name}),
            token=made.text,
            ca_sha256=self.ctx.ca.ca_sha256(),
            join_listen=self.ctx.join_address,
        )

    @rpc
    async def JoinTokenList(
        self, request: admin_pb2.JoinTokenListRequest, context: Context
    ) -> admin_pb2.JoinTokenListResponse:
        access = self.caller().access
        tokens = await self.db(self.ctx.store.join_tokens)
        names = await self._names()
        shown = [token_entry(t, names) for t in tokens if access.sees(t.vmgroup_id, Role.VMGROUP_ADMIN)]
        return admin_pb2.JoinTokenListResponse(tokens=shown)

    @rpc
    async def JoinTokenRemove(self, request: admin_pb2.JoinTokenRef, context: Context) -> admin_pb2.JoinTokenEntry:
        token_id = request.id.strip()
        found = await self.db(self.ctx.store.join_token, token_id)
        if found is None or not self.caller().access.sees(found.vmgroup_id, Role.VMGROUP_ADMIN):
            raise VdvsError(Err.JOIN_TOKEN_UNKNOWN, token_id)
        names = await self._names()
        removed = await self.db(self.ctx.store.remove_join_token, token_id)
        if removed is None:  # removed meanwhile
            raise VdvsError(Err.JOIN_TOKEN_UNKNOWN, token_id)
        return token_entry(removed, names)

    @rpc
    async def EnrollFolder(
        self, request: admin_pb2.EnrollFolderRequest, context: Context
    ) -> admin_pb2.EnrollFolderResponse:
        """Every VM of an inventory folder (and its subfolders), each enrolled as `vm enroll` would; a VM
        that cannot be (a clone sharing a uuid) is reported in its row, the others are enrolled."""
        folder = request.folder.strip()
        listing = getattr(self.ctx.backend, "vms_in_folder", None)
        if listing is None:
            raise VdvsError(Err.ENROLL_FOLDER_FAILED, folder, "only the vsphere backend has inventory folders")
        try:
            found: list[VmInfo] = await self.ctx.workers.disk(listing, folder)
        except BackendError as exc:
            raise VdvsError(Err.ENROLL_FOLDER_FAILED, folder, str(exc)) from None
        enrollment = Enrollment(self.ctx.store, self.ctx.workers, self.ctx.ca)
        rows = []
        for vm in found:
            try:
                issued = await enrollment.enroll(vm.name, vm.uuid, Lifetime(request.valid_days))
            except VdvsError as exc:
                rows.append(admin_pb2.EnrolledVm(name=vm.name, bios_uuid=vm.uuid, error=exc.message))
                continue
            rows.append(admin_pb2.EnrolledVm(name=vm.name, bios_uuid=vm.uuid, bundle=enroll_reply(self.ctx.ca, issued)))
        return admin_pb2.EnrollFolderResponse(vms=rows)
