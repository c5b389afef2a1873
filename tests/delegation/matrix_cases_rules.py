"""The delegation matrix's cases for membership rules, `vm explain` and the usage report, added to the
cases of ``matrix_cases.py`` (``ALL_CASES``), with the one refusal those cases add: a VM whose
vmgroup the caller does not see is a VM it cannot find (``HIDDEN``).

Each rule a case makes has a priority of its own (priorities are unique across vmgroups) and a
``label:case=...`` expression no VM of the fixture carries, so no VM moves while the matrix runs.
"""

from __future__ import annotations

from tests.delegation.matrix_cases import (
    ADMIN,
    CASES,
    LISTING,
    MEMBER,
    ROLES,
    SCOPES,
    Case,
    Ctx,
    _eq,
    _json,
    _sees,
    prints,
)
from tests.delegation.matrix_cases import refusal as _base_refusal
from vdvs.proto import admin_pb2

HIDDEN = "hidden"  # allowed where the caller sees the VM's vmgroup; elsewhere `Cannot find vm X`
FIXED = {"own": 901, "other": 902}  # the rules a case's setup makes in each vmgroup


def _priority(c: Ctx) -> int:
    """The priority of the rule a case adds, changes or removes: one per (role, scope)."""
    return 910 + 2 * ROLES.index(c.who) + SCOPES.index(c.scope)


def _add_rule(c: Ctx) -> None:
    c.w.call(
        "VmgroupRuleAdd", admin_pb2.VmgroupRuleRequest(name=c.g, match=f"label:case={c.who}", priority=_priority(c))
    )


def _rm_rule(c: Ctx) -> None:
    c.w.quietly("VmgroupRuleRemove", admin_pb2.VmgroupRuleRef(name=c.g, priority=_priority(c)))


def _add_fixed(c: Ctx) -> None:
    for scope, priority in FIXED.items():
        c.w.call(
            "VmgroupRuleAdd", admin_pb2.VmgroupRuleRequest(name=scope, match="label:case=fixed", priority=priority)
        )


def _rm_fixed(c: Ctx) -> None:
    for scope, priority in FIXED.items():
        c.w.quietly("VmgroupRuleRemove", admin_pb2.VmgroupRuleRef(name=scope, priority=priority))


def _check_rules(c: Ctx, out: str) -> None:
    """`rule ls` of everything: the rules of the vmgroups the caller sees, and no other."""
    seen = [(r["vmgroup"], r["priority"]) for r in _json(out)]
    _eq(seen, [(g, p) for g, p in FIXED.items() if g in _sees(c)])


def _check_explained(c: Ctx, out: str) -> None:
    got = _json(out)
    _eq((got["vm"], got["vmgroup"], got["source"]), (MEMBER[c.scope], c.g, "explicit"))
    _eq(
        [(v["rule"]["vmgroup"], v["verdict"]) for v in got["rules"]],
        [
            (g, "no match: label:case=fixed: the VM has no label 'case'")
            for g in FIXED
            if g in _sees(c)  # another vmgroup's rules are left out
        ],
    )


def _check_usage(c: Ctx, out: str) -> None:
    _eq({u["vmgroup"] for u in _json(out)}, _sees(c))


RULE_CASES: dict[str, Case] = {
    "VmgroupRuleAdd": Case(
        ADMIN,
        lambda c: (
            "vmgroup",
            "rule",
            "add",
            "--name",
            c.g,
            "--match",
            f"label:case={c.who}",
            "--priority",
            str(_priority(c)),
        ),
        prints(lambda c: "vmgroup rule add succeeded"),
        scoped=True,
        cleanup=_rm_rule,
    ),
    "VmgroupRuleSet": Case(
        ADMIN,
        lambda c: (
            "vmgroup",
            "rule",
            "set",
            "--name",
            c.g,
            "--priority",
            str(_priority(c)),
            "--match",
            "label:case=changed",
        ),
        prints(lambda c: "vmgroup rule set succeeded"),
        scoped=True,
        setup=_add_rule,
        cleanup=_rm_rule,
    ),
    "VmgroupRuleRemove": Case(
        ADMIN,
        lambda c: ("vmgroup", "rule", "rm", "--name", c.g, "--priority", str(_priority(c))),
        prints(lambda c: "vmgroup rule rm succeeded"),
        scoped=True,
        setup=_add_rule,
        cleanup=_rm_rule,
    ),
    "VmgroupRuleList": Case(
        LISTING, lambda c: ("vmgroup", "rule", "ls"), _check_rules, json=True, setup=_add_fixed, cleanup=_rm_fixed
    ),
    "VmExplain": Case(
        HIDDEN,
        lambda c: ("vm", "explain", "--vm", MEMBER[c.scope]),
        _check_explained,
        scoped=True,
        json=True,
        setup=_add_fixed,
        cleanup=_rm_fixed,
    ),
    "Usage": Case(LISTING, lambda c: ("usage",), _check_usage, json=True),
}

ALL_CASES: dict[str, Case] = {**CASES, **RULE_CASES}


def refusal(case: Case, c: Ctx) -> str | None:
    """What ``c.who`` is told for ``case`` (None: it is allowed)."""
    if case.need == HIDDEN:
        return None if c.g in _sees(c) else f"Cannot find vm {MEMBER[c.scope]}"
    return _base_refusal(case, c)
