"""Which vmgroup a VM acts in, and why: the one place membership is decided.

In order: the VM's explicit row (`vdvs vmgroup vm add`) wins; else the membership rule with the
lowest priority number that matches the VM's facts (its name, folder, custom attributes, labels:
``rules.py``); else ``_DEFAULT`` while that exists; else the VM belongs to no vmgroup (vDVS
error 1). ``read_inputs`` reads what the store says (on the store thread), ``decide`` is pure;
the broker fetches the backend's facts in between only when a rule needs them
(``needs_backend``), so explicit members and label-only rules never cost a backend call.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP, DEFAULT_VMGROUP_ID, VmGroup
from vdvs.tenancy.rules import MembershipRule, TermFailure, TermKind, VmFacts, first_failure
from vdvs.tenancy.store import ConfigStore


class Source(enum.StrEnum):
    EXPLICIT = "explicit"  # a vms row
    RULE = "rule"
    DEFAULT = "default"  # _DEFAULT: no row, no rule matched
    NONE = "none"  # ... and there is no _DEFAULT


@dataclass(frozen=True)
class MembershipInputs:
    """What the store says about one VM's membership."""

    explicit: VmGroup | None
    rules: tuple[MembershipRule, ...] = ()  # lowest priority number first
    labels: Mapping[str, str] = field(default_factory=dict)
    default: VmGroup | None = None

    def needs_backend(self, vm_name: str) -> bool:
        """Whether deciding needs the backend's view of the VM: some rule that needs it comes before
        any label-only rule that matches (label-only rules are decided from the store alone)."""
        if self.explicit is not None:
            return False
        facts = VmFacts(vm_name, labels=self.labels)
        for rule in self.rules:
            if rule.match.needs_backend:
                return True
            if first_failure(rule.match, facts) is None:
                return False
        return False


@dataclass(frozen=True)
class RuleOutcome:
    rule: MembershipRule
    failure: TermFailure | None  # None: the rule matches the VM

    @property
    def matched(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class Decision:
    vmgroup: VmGroup | None  # None: the VM belongs to no vmgroup
    source: Source
    rule: MembershipRule | None = None  # the rule that placed it (source RULE)
    outcomes: tuple[RuleOutcome, ...] = ()  # every rule's outcome (explain only)

    def require(self, vm_name: str) -> VmGroup:
        if self.vmgroup is None:
            raise VdvsError(Err.VM_NOT_BELONG_TO_TENANT, vm_name)
        return self.vmgroup

    def reason(self) -> str:
        """Why, in one line (`vdvs vm explain`)."""
        if self.source is Source.EXPLICIT:
            assert self.vmgroup is not None
            return f"explicit member of vmgroup {self.vmgroup.name} (vdvs vmgroup vm add); explicit membership wins"
        if self.source is Source.RULE:
            assert self.rule is not None
            return f"rule of priority {self.rule.priority} matched: {self.rule.expr}"
        if self.source is Source.DEFAULT:
            return f"not a member of any vmgroup and no rule matched: {DEFAULT_VMGROUP}"
        return f"not a member of any vmgroup, no rule matched, and there is no {DEFAULT_VMGROUP} vmgroup"

    def verdict(self, outcome: RuleOutcome) -> str:
        """What became of one rule for this VM."""
        if outcome.failure is not None:
            return f"no match: {outcome.failure.reason()}"
        if self.source is Source.EXPLICIT:
            return "matched, but explicit membership wins"
        if self.rule is not None and self.rule.id == outcome.rule.id:
            return "matched: chosen"
        assert self.rule is not None
        return f"matched, but priority {self.rule.priority} comes first"


def read_inputs(
    store: ConfigStore, vm_uuid: str, rules: Sequence[MembershipRule] | None = None, everything: bool = False
) -> MembershipInputs:
    """The VM's explicit row, the rules (``rules`` if the caller keeps them), its labels and ``_DEFAULT``.

    An explicit member needs nothing more, unless ``everything`` is asked for (explain)."""
    explicit = store.vmgroup_of_vm(vm_uuid)
    if explicit is not None and not everything:
        return MembershipInputs(explicit)
    found = tuple(store.membership_rules() if rules is None else rules)
    wants_labels = everything or any(t.kind is TermKind.LABEL for r in found for t in r.match.terms)
    labels = store.vm_labels(vm_uuid) if wants_labels else {}
    return MembershipInputs(explicit, found, labels, store.get_vmgroup(DEFAULT_VMGROUP_ID))


def decide(inputs: MembershipInputs, facts: VmFacts, explain: bool = False) -> Decision:
    """The VM's vmgroup. ``facts`` come from the backend (their labels are replaced by the store's);
    with ``explain`` every rule is tried and its outcome kept."""
    facts = replace(facts, labels=inputs.labels)
    outcomes: list[RuleOutcome] = []
    chosen: MembershipRule | None = None
    if inputs.explicit is None or explain:
        for rule in inputs.rules:
            failure = first_failure(rule.match, facts)
            if explain:
                outcomes.append(RuleOutcome(rule, failure))
            if failure is None and chosen is None:
                chosen = rule
                if not explain:
                    break
    if inputs.explicit is not None:
        return Decision(inputs.explicit, Source.EXPLICIT, None, tuple(outcomes))
    if chosen is not None:
        return Decision(chosen.vmgroup, Source.RULE, chosen, tuple(outcomes))
    if inputs.default is not None:
        return Decision(inputs.default, Source.DEFAULT, None, tuple(outcomes))
    return Decision(None, Source.NONE, None, tuple(outcomes))


def effective_vmgroup(store: ConfigStore, vm_uuid: str, vm_name: str, facts: VmFacts | None = None) -> VmGroup:
    """The VM's vmgroup from the store alone (``facts``: the backend's view, else just the enrolled name);
    a VM in none belongs to ``_DEFAULT``; with no ``_DEFAULT``, an error."""
    inputs = read_inputs(store, vm_uuid)
    return decide(inputs, facts or VmFacts(vm_name)).require(vm_name)
