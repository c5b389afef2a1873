"""Store part: role grants, vmgroup labels and datastore shares (delegated administration).

Each change moves the tenancy generation (``bump``) in its transaction: brokers keep every admin's
access in memory per generation, so a grant removed takes effect on that admin's next call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vdvs.tenancy.model import ShareRecord
from vdvs.tenancy.roles import GrantRecord, Role
from vdvs.tenancy.store_base import StoreBase

_GRANT_COLUMNS = "id, principal, role, vmgroup_id, selector, created"
_SHARE_COLUMNS = "id, datastore_url, vmgroup_id, selector, max_volume_size, max_total"


def _grant(row: Any) -> GrantRecord:
    return GrantRecord(int(row[0]), row[1], Role(row[2]), row[3], row[4], row[5])


def _share(row: Any) -> ShareRecord:
    return ShareRecord(int(row[0]), row[1], row[2], row[3], int(row[4]), int(row[5]))


class GrantRows(StoreBase):
    # ------------------------------------------------------------------ grants
    def add_grant(self, grant: GrantRecord) -> GrantRecord | None:
        """Record a grant; None if that very grant exists already."""
        with self._tx() as db:
            row = db.execute(
                f"INSERT INTO grants (principal, role, vmgroup_id, selector, created) VALUES (?, ?, ?, ?, ?) "
                f"ON CONFLICT (principal, role, vmgroup_id, selector) DO NOTHING RETURNING {_GRANT_COLUMNS}",
                (grant.principal, grant.role.value, grant.vmgroup_id, grant.selector, grant.created),
            ).fetchone()
            if row is not None:
                self.bump()
        return _grant(row) if row else None

    def remove_grant(self, principal: str, role: Role, vmgroup_id: str, selector: str) -> bool:
        with self._tx() as db:
            row = db.execute(
                "DELETE FROM grants WHERE principal = ? AND role = ? AND vmgroup_id = ? AND selector = ? RETURNING id",
                (principal, role.value, vmgroup_id, selector),
            ).fetchone()
            if row is not None:
                self.bump()
        return row is not None

    def grants(self, principal: str | None = None) -> list[GrantRecord]:
        sql = f"SELECT {_GRANT_COLUMNS} FROM grants"
        args: tuple[str, ...] = ()
        if principal is not None:
            sql += " WHERE principal = ?"
            args = (principal,)
        return [_grant(r) for r in self._db.execute(sql + " ORDER BY principal, role, id", args)]

    # ------------------------------------------------------------------ vmgroup labels
    def set_labels(self, vmgroup_id: str, labels: Mapping[str, str]) -> None:
        """Make ``labels`` the vmgroup's labels (all of them)."""
        with self._tx() as db:
            self.bump()
            db.execute("DELETE FROM vmgroup_labels WHERE vmgroup_id = ?", (vmgroup_id,))
            for key in sorted(labels):
                db.execute(
                    "INSERT INTO vmgroup_labels (vmgroup_id, key, value) VALUES (?, ?, ?)",
                    (vmgroup_id, key, labels[key]),
                )

    def labels_of(self, vmgroup_id: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT key, value FROM vmgroup_labels WHERE vmgroup_id = ? ORDER BY key", (vmgroup_id,)
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def all_labels(self) -> dict[str, dict[str, str]]:
        """vmgroup id -> its labels, for every vmgroup that has some (one query)."""
        found: dict[str, dict[str, str]] = {}
        for row in self._db.execute("SELECT vmgroup_id, key, value FROM vmgroup_labels ORDER BY vmgroup_id, key"):
            found.setdefault(str(row[0]), {})[str(row[1])] = str(row[2])
        return found

    # ------------------------------------------------------------------ datastore shares
    def put_share(self, share: ShareRecord) -> ShareRecord:
        """Share a datastore (or change the ceilings of that share)."""
        with self._tx() as db:
            self.bump()
            row = db.execute(
                "INSERT INTO datastore_shares (datastore_url, vmgroup_id, selector, max_volume_size, max_total) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (datastore_url, vmgroup_id, selector) DO UPDATE SET "
                "max_volume_size = excluded.max_volume_size, max_total = excluded.max_total "
                f"RETURNING {_SHARE_COLUMNS}",
                (share.datastore_url, share.vmgroup_id, share.selector, share.max_volume_size_mb, share.max_total_mb),
            ).fetchone()
        return _share(row)

    def remove_share(self, datastore_url: str, vmgroup_id: str, selector: str) -> bool:
        with self._tx() as db:
            row = db.execute(
                "DELETE FROM datastore_shares WHERE datastore_url = ? AND vmgroup_id = ? AND selector = ? RETURNING id",
                (datastore_url, vmgroup_id, selector),
            ).fetchone()
            if row is not None:
                self.bump()
        return row is not None

    def shares(self, datastore_url: str | None = None) -> list[ShareRecord]:
        sql = f"SELECT {_SHARE_COLUMNS} FROM datastore_shares"
        args: tuple[str, ...] = ()
        if datastore_url is not None:
            sql += " WHERE datastore_url = ?"
            args = (datastore_url,)
        return [_share(r) for r in self._db.execute(sql + " ORDER BY datastore_url, vmgroup_id, selector", args)]

    # ------------------------------------------------------------------ a vmgroup removed
    def forget_vmgroup(self, vmgroup_id: str) -> None:
        """Drop the labels, grants and shares of a vmgroup being deleted (in the caller's transaction)."""
        with self._tx() as db:
            self.bump()
            for table in ("vmgroup_labels", "grants", "datastore_shares"):
                db.execute(f"DELETE FROM {table} WHERE vmgroup_id = ?", (vmgroup_id,))
