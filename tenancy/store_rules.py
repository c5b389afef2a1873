"""Store part: membership rules and VM labels (what a VM's vmgroup is decided by, besides `vm add`).

Each change moves the tenancy generation in its transaction (``bump``): brokers keep each
VM's vmgroup in memory per generation, so a rule added, changed or removed, or a VM's labels
changed, applies on that VM's next call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vdvs.tenancy.model import VmGroup
from vdvs.tenancy.rules import MembershipRule
from vdvs.tenancy.store_base import StoreBase

_SELECT = (
    "SELECT r.id, r.expr, r.priority, r.created, g.id, g.name, g.description, g.default_datastore_url "
    "FROM membership_rules r JOIN vmgroups g ON g.id = r.vmgroup_id"
)


def _rule(row: Any) -> MembershipRule:
    return MembershipRule(int(row[0]), VmGroup(row[4], row[5], row[6], row[7]), row[1], int(row[2]), row[3])


class RuleRows(StoreBase):
    # ------------------------------------------------------------------ membership rules
    def membership_rules(self, vmgroup_id: str | None = None) -> list[MembershipRule]:
        """Every rule (or one vmgroup's), lowest priority number first: the order they are tried in."""
        if vmgroup_id is None:
            rows = self._db.execute(f"{_SELECT} ORDER BY r.priority").fetchall()
        else:
            rows = self._db.execute(f"{_SELECT} WHERE r.vmgroup_id = ? ORDER BY r.priority", (vmgroup_id,)).fetchall()
        return [_rule(r) for r in rows]

    def rule_at(self, priority: int) -> MembershipRule | None:
        row = self._db.execute(f"{_SELECT} WHERE r.priority = ?", (priority,)).fetchone()
        return _rule(row) if row else None

    def add_rule(self, vmgroup_id: str, expr: str, priority: int, created: str) -> MembershipRule | None:
        """Insert the rule; None (and nothing changed) when its priority is taken."""
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO membership_rules (vmgroup_id, expr, priority, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (priority) DO NOTHING RETURNING id",
                (vmgroup_id, expr, priority, created),
            ).fetchone()
            if row is None:
                return None
            self.bump()
            return self.rule_at(priority)

    def set_rule_expr(self, rule_id: int, expr: str) -> None:
        with self._tx() as db:
            self.bump()
            db.execute("UPDATE membership_rules SET expr = ? WHERE id = ?", (expr, rule_id))

    def delete_rule(self, rule_id: int) -> None:
        with self._tx() as db:
            self.bump()
            db.execute("DELETE FROM membership_rules WHERE id = ?", (rule_id,))

    def delete_rules_of(self, vmgroup_id: str) -> None:
        with self._tx() as db:
            self.bump()
            db.execute("DELETE FROM membership_rules WHERE vmgroup_id = ?", (vmgroup_id,))

    # ------------------------------------------------------------------ VM labels
    def vm_labels(self, vm_uuid: str) -> dict[str, str]:
        rows = self._db.execute("SELECT key, value FROM vm_labels WHERE vm_uuid = ? ORDER BY key", (vm_uuid,))
        return {str(r[0]): str(r[1]) for r in rows}

    def set_vm_labels(self, vm_uuid: str, labels: Mapping[str, str]) -> None:
        """Replace the VM's labels with ``labels``."""
        with self._tx() as db:
            self.bump()
            db.execute("DELETE FROM vm_labels WHERE vm_uuid = ?", (vm_uuid,))
            for key, value in labels.items():
                db.execute("INSERT INTO vm_labels (vm_uuid, key, value) VALUES (?, ?, ?)", (vm_uuid, key, value))
