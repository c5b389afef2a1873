"""Store part: vmgroups, their member VMs and their per-datastore privileges."""

from __future__ import annotations

import sqlite3

from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP,
    DEFAULT_VMGROUP_DESCRIPTION,
    DEFAULT_VMGROUP_ID,
    VM_DS_URL,
    Privilege,
    VmGroup,
    VmRecord,
)
from vdvs.tenancy.store_base import StoreBase


def _vmgroup(row: sqlite3.Row) -> VmGroup:
    return VmGroup(
        row["id"],
        row["name"],
        row["description"],
        row["default_datastore_url"],
        row["max_volumes"],
        cascade_delete=bool(row["cascade_delete"]),
    )


def _privilege(row: sqlite3.Row) -> Privilege:
    return Privilege(
        row["vmgroup_id"],
        row["datastore_url"],
        bool(row["allow_create"]),
        row["max_volume_size"],
        row["usage_quota"],
        row["max_volume_count"],
        row["alert_at"],
        row["storage_policy"],
        tuple(p for p in row["allowed_policies"].split(",") if p),
    )


_PRIVILEGE_INSERT = (
    "INSERT INTO privileges (vmgroup_id, datastore_url, allow_create, max_volume_size, usage_quota, "
    "max_volume_count, alert_at, storage_policy, allowed_policies) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (vmgroup_id, datastore_url) "
)


def _privilege_values(privilege: Privilege) -> tuple[object, ...]:
    return (
        privilege.vmgroup_id,
        privilege.datastore_url,
        int(privilege.allow_create),
        privilege.max_volume_size_mb,
        privilege.usage_quota_mb,
        privilege.max_volume_count,
        privilege.alert_at,
        privilege.storage_policy,
        ",".join(privilege.allowed_policies),
    )


class VmgroupRows(StoreBase):
    def _insert_defaults(self) -> None:
        self.create_vmgroup(VmGroup(DEFAULT_VMGROUP_ID, DEFAULT_VMGROUP, DEFAULT_VMGROUP_DESCRIPTION, VM_DS_URL))
        for url in (ALL_DS_URL, VM_DS_URL):
            self.set_privilege(Privilege(DEFAULT_VMGROUP_ID, url, allow_create=True))

    # ------------------------------------------------------------------ vmgroups
    def get_vmgroup(self, vmgroup_id: str) -> VmGroup | None:
        row = self._db.execute("SELECT * FROM vmgroups WHERE id = ?", (vmgroup_id,)).fetchone()
        return _vmgroup(row) if row else None

    def get_vmgroup_by_name(self, name: str) -> VmGroup | None:
        row = self._db.execute("SELECT * FROM vmgroups WHERE name = ?", (name,)).fetchone()
        return _vmgroup(row) if row else None

    def list_vmgroups(self) -> list[VmGroup]:
        return [_vmgroup(r) for r in self._db.execute("SELECT * FROM vmgroups ORDER BY name")]

    def create_vmgroup(self, vmgroup: VmGroup) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute(
                "INSERT INTO vmgroups (id, name, description, default_datastore_url, max_volumes) "
                "VALUES (?, ?, ?, ?, ?)",
                (vmgroup.id, vmgroup.name, vmgroup.description, vmgroup.default_datastore_url, vmgroup.max_volumes),
            )

    def update_vmgroup(
        self,
        vmgroup_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        default_datastore_url: str | None = None,
    ) -> None:
        changes = {"name": name, "description": description, "default_datastore_url": default_datastore_url}
        with self.transaction() as db:
            self.bump()
            for column, value in changes.items():
                if value is not None:
                    db.execute(f"UPDATE vmgroups SET {column} = ? WHERE id = ?", (value, vmgroup_id))

    def set_max_volumes(self, vmgroup_id: str, limit: int | None) -> None:
        """The vmgroup's volume-count limit on all its datastores (None: no limit)."""
        with self.transaction() as db:
            self.bump()
            db.execute("UPDATE vmgroups SET max_volumes = ? WHERE id = ?", (limit, vmgroup_id))

    def delete_vmgroup(self, vmgroup_id: str) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute("DELETE FROM vms WHERE vmgroup_id = ?", (vmgroup_id,))
            db.execute("DELETE FROM membership_rules WHERE vmgroup_id = ?", (vmgroup_id,))
            db.execute("DELETE FROM privileges WHERE vmgroup_id = ?", (vmgroup_id,))
            db.execute("DELETE FROM vmgroups WHERE id = ?", (vmgroup_id,))

    # ------------------------------------------------------------------ membership
    def vmgroup_of_vm(self, vm_uuid: str) -> VmGroup | None:
        """The vmgroup the VM is a member of; None if in none (callers apply _DEFAULT)."""
        row = self._db.execute(
            "SELECT g.* FROM vms v JOIN vmgroups g ON g.id = v.vmgroup_id WHERE v.vm_id = ?", (vm_uuid,)
        ).fetchone()
        return _vmgroup(row) if row else None

    def vms_of(self, vmgroup_id: str) -> list[VmRecord]:
        rows = self._db.execute("SELECT * FROM vms WHERE vmgroup_id = ? ORDER BY vm_name, vm_id", (vmgroup_id,))
        return [VmRecord(r["vm_id"], r["vm_name"], r["vmgroup_id"]) for r in rows]

    def memberships(self) -> dict[str, list[VmRecord]]:
        """Members of every vmgroup in one query (for listings)."""
        found: dict[str, list[VmRecord]] = {}
        for r in self._db.execute("SELECT * FROM vms ORDER BY vm_name, vm_id"):
            found.setdefault(r["vmgroup_id"], []).append(VmRecord(r["vm_id"], r["vm_name"], r["vmgroup_id"]))
        return found

    def add_vm(self, vm_uuid: str, vmgroup_id: str, vm_name: str) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute("INSERT INTO vms (vm_id, vmgroup_id, vm_name) VALUES (?, ?, ?)", (vm_uuid, vmgroup_id, vm_name))

    def remove_vm(self, vm_uuid: str) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute("DELETE FROM vms WHERE vm_id = ?", (vm_uuid,))

    # ------------------------------------------------------------------ privileges
    def get_privilege(self, vmgroup_id: str, datastore_url: str) -> Privilege | None:
        row = self._db.execute(
            "SELECT * FROM privileges WHERE vmgroup_id = ? AND datastore_url = ?", (vmgroup_id, datastore_url)
        ).fetchone()
        return _privilege(row) if row else None

    def privileges(self, vmgroup_id: str) -> list[Privilege]:
        rows = self._db.execute("SELECT * FROM privileges WHERE vmgroup_id = ? ORDER BY datastore_url", (vmgroup_id,))
        return [_privilege(r) for r in rows]

    def set_privilege(self, privilege: Privilege) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute(
                _PRIVILEGE_INSERT + "DO UPDATE SET allow_create = excluded.allow_create, "
                "max_volume_size = excluded.max_volume_size, usage_quota = excluded.usage_quota, "
                "max_volume_count = excluded.max_volume_count, alert_at = excluded.alert_at, "
                "storage_policy = excluded.storage_policy, allowed_policies = excluded.allowed_policies",
                _privilege_values(privilege),
            )

    def ensure_privilege(self, privilege: Privilege) -> None:
        """Add the row unless one exists (an existing row is kept as it is, as vDVS did)."""
        with self.transaction() as db:
            self.bump()
            db.execute(_PRIVILEGE_INSERT + "DO NOTHING", _privilege_values(privilege))

    def delete_privilege(self, vmgroup_id: str, datastore_url: str) -> None:
        with self.transaction() as db:
            self.bump()
            db.execute("DELETE FROM privileges WHERE vmgroup_id = ? AND datastore_url = ?", (vmgroup_id, datastore_url))
