"""Store part: vSAN storage policies by name (`vdvs policy ...`), and the volumes that name one."""

from __future__ import annotations

from typing import Any

from vdvs.tenancy.policies import Policy
from vdvs.tenancy.store_base import StoreBase

_COLUMNS = "name, content, created, updated"


def _policy(row: Any) -> Policy:
    return Policy(str(row[0]), str(row[1]), str(row[2]), str(row[3]))


class PolicyRows(StoreBase):
    def add_policy(self, policy: Policy) -> bool:
        """Insert the policy; False (nothing written) when one of that name exists."""
        with self._tx() as db:
            row = db.execute(
                f"INSERT INTO policies ({_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name",
                (policy.name, policy.content, policy.created, policy.updated),
            ).fetchone()
        return row is not None

    def policy(self, name: str) -> Policy | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM policies WHERE name = ?", (name,)).fetchone()
        return _policy(row) if row is not None else None

    def policies(self) -> list[Policy]:
        return [_policy(r) for r in self._db.execute(f"SELECT {_COLUMNS} FROM policies ORDER BY name")]

    def update_policy(self, name: str, content: str, updated: str) -> Policy | None:
        with self._tx() as db:
            row = db.execute(
                f"UPDATE policies SET content = ?, updated = ? WHERE name = ? RETURNING {_COLUMNS}",
                (content, updated, name),
            ).fetchone()
        return _policy(row) if row is not None else None

    def remove_policy(self, name: str) -> Policy | None:
        with self._tx() as db:
            row = db.execute(f"DELETE FROM policies WHERE name = ? RETURNING {_COLUMNS}", (name,)).fetchone()
        return _policy(row) if row is not None else None

    def policy_volume_rows(self) -> list[tuple[Any, ...]]:
        """(name, datastore_url, vmgroup_id, options JSON, attached VM) of every volume row whose options name
        a policy (a pre-filter on the text: ``tenancy.policies.users`` reads the options to be exact)."""
        return self._tuples(
            "SELECT name, datastore_url, vmgroup_id, options, attached_vm FROM volumes WHERE options LIKE ?",
            ("%vsan-policy-name%",),
        )
