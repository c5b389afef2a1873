"""Store part: VM certificates (enrollment, revocation) and the VM names they carry."""

from __future__ import annotations

import sqlite3

from vdvs.tenancy.model import CertRecord
from vdvs.tenancy.store_base import StoreBase


def _cert(row: sqlite3.Row) -> CertRecord:
    return CertRecord(row["serial"], row["vm_uuid"], row["vm_name"], row["not_after"], bool(row["revoked"]))


class CertRows(StoreBase):
    def add_cert(self, cert: CertRecord, issued_at: str) -> None:
        with self._tx() as db:
            self.bump()
            db.execute(
                "INSERT INTO certs (serial, vm_uuid, vm_name, not_after, issued_at, revoked) VALUES (?, ?, ?, ?, ?, ?)",
                (cert.serial, cert.vm_uuid, cert.vm_name, cert.not_after, issued_at, int(cert.revoked)),
            )

    def get_cert(self, serial: str) -> CertRecord | None:
        row = self._db.execute("SELECT * FROM certs WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            return None
        return _cert(row)

    def certs_of_vm(self, vm_uuid: str) -> list[CertRecord]:
        rows = self._db.execute("SELECT * FROM certs WHERE vm_uuid = ? ORDER BY issued_at", (vm_uuid,))
        return [_cert(r) for r in rows]

    def revoke_certs(self, *, vm_uuid: str = "", serial: str = "") -> list[str]:
        """Revoke every live certificate of a VM, or one by serial; return the serials revoked."""
        with self._tx() as db:
            self.bump()
            rows = db.execute(
                "SELECT serial FROM certs WHERE revoked = 0 AND (vm_uuid = ? OR serial = ?)",
                (vm_uuid, serial),
            ).fetchall()
            serials = [r[0] for r in rows]
            for serial_hex in serials:
                db.execute("UPDATE certs SET revoked = 1 WHERE serial = ?", (serial_hex,))
        return serials

    def vm_name(self, vm_uuid: str) -> str:
        """A VM's display name: its membership name, else its newest certificate's, else the uuid."""
        row = self._db.execute("SELECT vm_name FROM vms WHERE vm_id = ?", (vm_uuid,)).fetchone()
        if row and row[0]:
            return str(row[0])
        row = self._db.execute(
            "SELECT vm_name FROM certs WHERE vm_uuid = ? ORDER BY issued_at DESC LIMIT 1", (vm_uuid,)
        ).fetchone()
        return str(row[0]) if row else vm_uuid

    def known_vms(self) -> dict[str, str]:
        """uuid -> name of every VM the broker knows: enrolled (newest certificate's name) or a member."""
        found: dict[str, str] = {}
        for row in self._db.execute("SELECT vm_uuid, vm_name FROM certs ORDER BY issued_at"):
            found[row[0]] = row[1]
        for row in self._db.execute("SELECT vm_id, vm_name FROM vms"):
            found.setdefault(row[0], row[1] or row[0])
        return found
