"""AdminService handlers: storage policies (`vdvs policy create|ls|update|rm`), rules in tenancy/policies.py.

Policies are global objects: platform admins manage them; a delegated admin lists them (to choose an
access row's default), and sees among their users only the volumes of vmgroups it sees. An update
re-applies the new text to the disks of the volumes using it where the backend applies policies (vSphere,
on vSAN) and says, volume by volume, what was re-applied and what is only on record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import BackendError, DiskRef
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy import policies
from vdvs.tenancy.datastores import datastore_name
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.policies import Policy, PolicyUser

Names = tuple[list[DatastoreRef], dict[str, str]]  # the datastores, and vmgroup id -> name


def _entry(policy: Policy, used_by: list[PolicyUser], shown: list[str]) -> admin_pb2.PolicyEntry:
    return admin_pb2.PolicyEntry(
        name=policy.name,
        content=policy.content,
        active=policies.active_text(len(used_by)),
        volumes=shown,
        created=policy.created,
        updated=policy.updated,
    )


class PolicyHandlers(AdminHandlers):
    async def _policy_users(self) -> dict[str, list[PolicyUser]]:
        return policies.users(await self.db(self.ctx.store.policy_volume_rows))

    async def _policy_names(self) -> Names:
        """The datastores, and vmgroup id -> name: what users are shown with."""
        return await self.datastores(), {g.id: g.name for g in await self.db(self.ctx.store.list_vmgroups)}

    def _policy_shown(
        self, used_by: Iterable[PolicyUser], names: tuple[list[DatastoreRef], dict[str, str]]
    ) -> list[str]:
        """``name@datastore (vmgroup)`` of the users the caller sees."""
        access = self.caller().access
        datastores, vmgroups = names
        return sorted(
            f"{u.volume}@{datastore_name(u.datastore_url, datastores) or u.datastore_url} "
            f"({vmgroups.get(u.vmgroup_id, u.vmgroup_id)})"
            for u in used_by
            if access.sees(u.vmgroup_id)
        )

    @rpc
    async def PolicyCreate(self, request: admin_pb2.PolicyRequest, context: Context) -> admin_pb2.PolicyEntry:
        policy = policies.checked_policy(request.name.strip(), request.content)
        if not await self.db(self.ctx.store.add_policy, policy):
            raise VdvsError(Err.POLICY_EXISTS, policy.name)
        return _entry(policy, [], [])

    @rpc
    async def PolicyList(self, request: admin_pb2.PolicyListRequest, context: Context) -> admin_pb2.PolicyListResponse:
        found = await self.db(self.ctx.store.policies)
        used = await self._policy_users()
        names = await self._policy_names()
        return admin_pb2.PolicyListResponse(
            policies=[_entry(p, used.get(p.name, []), self._policy_shown(used.get(p.name, []), names)) for p in found]
        )

    @rpc
    async def PolicyRemove(self, request: admin_pb2.PolicyRef, context: Context) -> admin_pb2.PolicyEntry:
        name = request.name.strip()
        if await self.db(self.ctx.store.policy, name) is None:
            raise VdvsError(Err.POLICY_NOT_FOUND, name)
        used_by = (await self._policy_users()).get(name, [])
        if used_by:
            shown = self._policy_shown(used_by, await self._policy_names())
            raise VdvsError(Err.POLICY_IN_USE, ", ".join(shown) or f"{len(used_by)} volumes")
        rows = policies.access_users(await self.db(self.ctx.store.all_privileges), name)
        if rows:
            datastores, vmgroups = await self._policy_names()
            where = ", ".join(
                f"the access of vmgroup {vmgroups.get(p.vmgroup_id, p.vmgroup_id)} to "
                f"{datastore_name(p.datastore_url, datastores) or p.datastore_url}"
                for p in rows
            )
            raise VdvsError(Err.POLICY_IN_USE, where)
        removed = await self.db(self.ctx.store.remove_policy, name)
        if removed is None:  # removed meanwhile
            raise VdvsError(Err.POLICY_NOT_FOUND, name)
        return _entry(removed, [], [])

    @rpc
    async def PolicyUpdate(self, request: admin_pb2.PolicyRequest, context: Context) -> admin_pb2.PolicyUpdateResponse:
        name = request.name.strip()
        if await self.db(self.ctx.store.policy, name) is None:
            raise VdvsError(Err.POLICY_NOT_FOUND, name)
        checked = policies.checked_policy(name, request.content)
        updated = await self.db(self.ctx.store.update_policy, name, checked.content, checked.updated)
        if updated is None:
            raise VdvsError(Err.POLICY_NOT_FOUND, name)
        used_by = (await self._policy_users()).get(name, [])
        outcome = await self._policy_reapply(updated, used_by)
        return admin_pb2.PolicyUpdateResponse(
            policy=_entry(updated, used_by, self._policy_shown(used_by, await self._policy_names())),
            reapplied=outcome["reapplied"],
            recorded=outcome["recorded"],
            failed=outcome["failed"],
            not_attached=outcome["not_attached"],
        )

    async def _policy_reapply(self, policy: Policy, used_by: list[PolicyUser]) -> Mapping[str, list[str]]:
        """Put the new text on each user's disk where the backend can (vSAN); the rest is on record."""
        outcome: dict[str, list[str]] = {"reapplied": [], "recorded": [], "failed": [], "not_attached": []}
        infos = {d.url: d for d in await self.ctx.inventory.datastores(refresh=True)}
        apply = getattr(self.ctx.backend, "apply_policy", None)
        access = self.caller().access
        for user in used_by:
            info = infos.get(user.datastore_url)
            shown = f"{user.volume}@{info.name if info else user.datastore_url}"
            if not access.sees(user.vmgroup_id):
                continue
            if apply is None or info is None or info.kind != policies.VSAN:
                outcome["recorded"].append(shown)
                continue
            disk: DiskRef = VolumeName(user.volume, info.name).disk(user.vmgroup_id)
            try:
                done = user.attached_vm is not None and await self.ctx.workers.disk(
                    apply, user.attached_vm, disk, policy.content
                )
            except BackendError as exc:
                outcome["failed"].append(f"{shown}: {exc}")
                continue
            outcome["reapplied" if done else "not_attached"].append(shown)
        return outcome
