"""Store part: the whole-store reads the effective-permissions view needs, one query each."""

from __future__ import annotations

from vdvs.tenancy.model import Privilege
from vdvs.tenancy.snapshots import CHARGED_MB_SQL
from vdvs.tenancy.store_base import StoreBase


class ViewRows(StoreBase):
    def all_privileges(self) -> dict[str, dict[str, Privilege]]:
        """vmgroup id -> datastore URL -> privilege row, for every vmgroup."""
        found: dict[str, dict[str, Privilege]] = {}
        rows = self._db.execute(
            "SELECT vmgroup_id, datastore_url, allow_create, max_volume_size, usage_quota, max_volume_count, alert_at, "
            "storage_policy, allowed_policies FROM privileges"
        )
        for r in rows:
            count, alert_at = (None if v is None else int(v) for v in (r[5], r[6]))
            allowed = tuple(p for p in str(r[8]).split(",") if p)
            found.setdefault(r[0], {})[r[1]] = Privilege(
                r[0], r[1], bool(r[2]), int(r[3]), int(r[4]), count, alert_at, r[7], allowed
            )
        return found

    def usage_by_datastore(self) -> dict[tuple[str, str], int]:
        """(vmgroup id, datastore URL) -> MB held there (ready volumes and open reservations), as quotas count it."""
        rows = self._db.execute(
            f"SELECT vmgroup_id, datastore_url, COALESCE(SUM({CHARGED_MB_SQL}), 0) FROM volumes "
            "GROUP BY vmgroup_id, datastore_url"
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def live_vm_uuids(self) -> set[str]:
        """BIOS uuids of the VMs holding a certificate that is not revoked (those that can call)."""
        return {str(r[0]) for r in self._db.execute("SELECT DISTINCT vm_uuid FROM certs WHERE revoked = 0")}
