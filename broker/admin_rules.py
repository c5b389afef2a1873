"""AdminService handlers: membership rules (`vdvs vmgroup rule ...`) and `vdvs vm explain`.

The rules themselves are in tenancy/ (``rules.py`` the language, ``rule_admin.py`` the commands,
``membership.py`` the decision); these handlers run them on the store thread, read the backend's
view of a VM on the disk pool, and shape the replies. Every rule RPC names the vmgroup it acts on.
A delegated admin (``tenancy/roles.py``) lists the rules of the vmgroups it sees, and has a VM
explained only when the VM's vmgroup is one of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from vdvs.broker.admin_context import AdminContext, AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.moves import settle_idle
from vdvs.broker.pki import normalize_uuid
from vdvs.proto import admin_pb2
from vdvs.tenancy import membership, rule_admin
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.roles import AdminAccess
from vdvs.tenancy.rules import MembershipRule, VmFacts
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import VmRef, resolve_vm_list

log = logging.getLogger("vdvs.broker.admin")


def rule_message(rule: MembershipRule) -> admin_pb2.MembershipRule:
    return admin_pb2.MembershipRule(
        id=rule.id, vmgroup=rule.vmgroup.name, match=rule.expr, priority=rule.priority, created=rule.created
    )


def rules_message(rules: list[MembershipRule]) -> admin_pb2.MembershipRules:
    return admin_pb2.MembershipRules(rules=[rule_message(r) for r in rules])


def named_vm(store: ConfigStore, name: str, bios_uuid: str) -> VmRef:
    """The VM `vm explain` names: by BIOS uuid, else by name (enrolled, or an explicit member)."""
    if bios_uuid:
        vm_uuid = normalize_uuid(bios_uuid)
        if vm_uuid is None:
            raise VdvsError(Err.INVALID_VM_UUID, bios_uuid)
        known = store.known_vms()
        if vm_uuid not in known:
            raise VdvsError(Err.VM_NOT_FOUND, bios_uuid)
        return VmRef(vm_uuid, known[vm_uuid])
    if not name:
        raise VdvsError(Err.INVALID_ARGUMENT, "give the VM's name (--vm) or its BIOS uuid (--uuid)")
    return resolve_vm_list(store, [name])[0]


@dataclass(frozen=True)
class Explained:
    """A VM's membership as decided now, with every rule's outcome and the facts it was decided on."""

    vm: VmRef
    decision: membership.Decision
    facts: VmFacts
    facts_error: str  # why the backend could not be asked ("" if it was)


async def explain(ctx: AdminContext, vm: VmRef) -> Explained:
    """Decide the VM's vmgroup from scratch (fresh backend facts), as its next call would."""
    inputs = await ctx.workers.db(membership.read_inputs, ctx.store, vm.uuid, None, True)
    facts_error = ""
    try:
        facts = await ctx.inventory.facts(vm.uuid, vm.name, refresh=True)
    except VdvsError as exc:  # the backend does not know the VM (or cannot be asked): decide on what is known
        facts, facts_error = VmFacts(vm.name), exc.message
    decision = membership.decide(inputs, facts, explain=True)
    return Explained(vm, decision, replace(facts, labels=inputs.labels), facts_error)


def explanation_message(found: Explained) -> admin_pb2.VmExplanation:
    decision = found.decision
    return admin_pb2.VmExplanation(
        vm=found.vm.name,
        bios_uuid=found.vm.uuid,
        vmgroup=decision.vmgroup.name if decision.vmgroup else "",
        source=str(decision.source),
        reason=decision.reason(),
        rule_priority=decision.rule.priority if decision.rule else 0,
        facts=found.facts.shown(),
        facts_error=found.facts_error,
        rules=[
            admin_pb2.RuleVerdict(rule=rule_message(o.rule), matched=o.matched, verdict=decision.verdict(o))
            for o in decision.outcomes
        ],
    )


class RuleHandlers(AdminHandlers):
    async def _changed(self, what: str, rule: MembershipRule) -> None:
        """A rule changed: VMs decide their vmgroup again at their next call (the generation moved);
        those holding idle attachments now, so the ones that left a vmgroup let go of its volumes."""
        log.info("admin: %s membership rule %d of vmgroup %s: %s", what, rule.priority, rule.vmgroup.name, rule.expr)
        released = await settle_idle(self.ctx.attach)
        if released:
            log.info("admin: VMs changed vmgroup; detached their idle %s", ", ".join(released))

    @rpc
    async def VmgroupRuleAdd(self, request: admin_pb2.VmgroupRuleRequest, context: Context) -> admin_pb2.MembershipRule:
        rule = await self.db(rule_admin.add_rule, self.ctx.store, request.name, request.match, request.priority)
        await self._changed("added", rule)
        return rule_message(rule)

    @rpc
    async def VmgroupRuleSet(self, request: admin_pb2.VmgroupRuleRequest, context: Context) -> admin_pb2.MembershipRule:
        rule = await self.db(rule_admin.set_rule, self.ctx.store, request.name, request.match, request.priority)
        await self._changed("changed", rule)
        return rule_message(rule)

    @rpc
    async def VmgroupRuleRemove(self, request: admin_pb2.VmgroupRuleRef, context: Context) -> admin_pb2.MembershipRules:
        rule = await self.db(rule_admin.remove_rule, self.ctx.store, request.name, request.priority)
        await self._changed("removed", rule)
        return rules_message(await self.db(rule_admin.list_rules, self.ctx.store, request.name))

    @rpc
    async def VmgroupRuleList(
        self, request: admin_pb2.VmgroupRuleListRequest, context: Context
    ) -> admin_pb2.MembershipRules:
        rules = await self.read(rule_admin.list_rules, request.name)
        caller = self.caller().access  # the guard checked a named vmgroup; all rules: those of vmgroups one sees
        return rules_message([rule for rule in rules if caller.sees(rule.vmgroup.id)])

    @rpc
    async def VmExplain(self, request: admin_pb2.VmExplainRequest, context: Context) -> admin_pb2.VmExplanation:
        vm = await self.db(named_vm, self.ctx.store, request.vm, request.bios_uuid)
        return explanation_message(seen_by(await explain(self.ctx, vm), self.caller().access, request))


def seen_by(found: Explained, caller: AdminAccess, request: admin_pb2.VmExplainRequest) -> Explained:
    """The explanation as ``caller`` may read it: a VM whose vmgroup it does not see is a VM it cannot
    find (the text of an unknown VM), and other vmgroups' rules are left out of the verdicts."""
    if caller.platform:
        return found
    vmgroup = found.decision.vmgroup
    if vmgroup is None or not caller.sees(vmgroup.id):
        raise VdvsError(Err.VM_NOT_FOUND, request.vm or request.bios_uuid)
    outcomes = tuple(o for o in found.decision.outcomes if caller.sees(o.rule.vmgroup.id))
    return replace(found, decision=replace(found.decision, outcomes=outcomes))
