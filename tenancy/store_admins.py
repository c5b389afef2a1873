"""Store part: admin principals and their certificates (enrolled admins, directory logins)."""

from __future__ import annotations

import json
from typing import Any

from vdvs.tenancy.admins import AdminRecord
from vdvs.tenancy.store_base import StoreBase

_COLUMNS = "id, name, kind, principals, serial, not_after, issued_at, revoked"


def _admin(row: Any) -> AdminRecord:
    return AdminRecord(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4], row[5], row[6], bool(row[7]))


class AdminRows(StoreBase):
    def add_admin(self, admin: AdminRecord) -> None:
        with self._tx() as db:
            self.bump()
            db.execute(
                f"INSERT INTO admins ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    admin.id,
                    admin.name,
                    admin.kind,
                    admin.principals_json(),
                    admin.serial,
                    admin.not_after,
                    admin.issued_at,
                    int(admin.revoked),
                ),
            )

    def admin_by_serial(self, serial: str) -> AdminRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM admins WHERE serial = ?", (serial,)).fetchone()
        return _admin(row) if row else None

    def admins_named(self, name: str) -> list[AdminRecord]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM admins WHERE name = ? ORDER BY issued_at", (name,))
        return [_admin(r) for r in rows]

    def list_admins(self) -> list[AdminRecord]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM admins ORDER BY name, issued_at")
        return [_admin(r) for r in rows]

    def revoke_admins(self, name: str) -> list[str]:
        """Revoke every live certificate of the admin ``name``; the serials revoked."""
        with self._tx() as db:
            rows = db.execute("SELECT serial FROM admins WHERE name = ? AND revoked = 0", (name,)).fetchall()
            serials = [str(r[0]) for r in rows]
            if serials:
                self.bump()
                db.execute("UPDATE admins SET revoked = 1 WHERE name = ? AND revoked = 0", (name,))
        return serials
