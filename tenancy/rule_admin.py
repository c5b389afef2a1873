"""`vdvs vmgroup rule add|set|rm|ls`: membership rules as an admin manages them, in one check order.

Each command checks everything first (the vmgroup, the expression, the priority) and then makes
one change, so a refused command changes nothing. Priorities are unique across all vmgroups
(the lowest number wins, so two rules of one priority would leave the winner undefined); a rule
is named by its vmgroup and its priority, so every command says which vmgroup it acts on.
"""

from __future__ import annotations

import datetime as dt

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.rules import MembershipRule, check_priority, parse_expr
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import require_vmgroup


def _rule_of(store: ConfigStore, name: str, priority: int) -> MembershipRule:
    vmgroup = require_vmgroup(store, name)
    check_priority(priority)
    rule = store.rule_at(priority)
    if rule is None or rule.vmgroup.id != vmgroup.id:  # another vmgroup's rule is not named
        raise VdvsError(Err.RULE_NOT_FOUND, priority, name)
    return rule


def add_rule(store: ConfigStore, name: str, expr: str, priority: int) -> MembershipRule:
    vmgroup = require_vmgroup(store, name)
    parsed = parse_expr(expr)
    check_priority(priority)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rule = store.add_rule(vmgroup.id, str(parsed), priority, created)
    if rule is None:
        raise VdvsError(Err.RULE_PRIORITY_TAKEN, priority)
    return rule


def set_rule(store: ConfigStore, name: str, expr: str, priority: int) -> MembershipRule:
    """Replace the expression of the vmgroup's rule of ``priority``, in one change."""
    require_vmgroup(store, name)
    parsed = parse_expr(expr)
    rule = _rule_of(store, name, priority)
    store.set_rule_expr(rule.id, str(parsed))
    updated = store.rule_at(priority)
    assert updated is not None
    return updated


def remove_rule(store: ConfigStore, name: str, priority: int) -> MembershipRule:
    rule = _rule_of(store, name, priority)
    store.delete_rule(rule.id)
    return rule


def list_rules(store: ConfigStore, name: str = "") -> list[MembershipRule]:
    """One vmgroup's rules, or (``name`` empty) every rule, in the order they are tried."""
    if not name:
        return store.membership_rules()
    return store.membership_rules(require_vmgroup(store, name).id)
