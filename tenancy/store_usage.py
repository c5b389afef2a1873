"""Store part: accounting. What every vmgroup holds per datastore, from one GROUP BY over the volume
rows; the same per volume (for ``[metrics] per_volume``); the allocated space the broker's sweep
measures; and the daily samples trends are drawn from.

The report and the samples share one aggregate (``_USAGE``), so a sample is exactly what the
report said at that moment. Figures follow Cinder's ``?usage=true``: rows being created are
*reserved*, not yet provisioned, and the quotas check provisioned + reserved against the limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vdvs.tenancy.model import ALL_DS_URL, VM_DS_URL
from vdvs.tenancy.store_base import StoreBase

# A volume counts once its create is done, until its row goes (a delete under way still holds the space).
_HELD = "state != 'creating'"

# Per (vmgroup, datastore): every row, summed. SUM of a BIGINT is NUMERIC in PostgreSQL: cast back.
_USAGE = f"""
usage AS (
    SELECT vmgroup_id, datastore_url,
        CAST(SUM(CASE WHEN {_HELD} THEN 1 ELSE 0 END) AS BIGINT) AS volumes,
        CAST(SUM(CASE WHEN {_HELD} THEN size_mb ELSE 0 END) AS BIGINT) AS provisioned_mb,
        CAST(SUM(CASE WHEN {_HELD} THEN 0 ELSE 1 END) AS BIGINT) AS reserved_volumes,
        CAST(SUM(CASE WHEN {_HELD} THEN 0 ELSE size_mb END) AS BIGINT) AS reserved_mb,
        CAST(SUM(CASE WHEN {_HELD} THEN allocated_bytes ELSE 0 END) AS BIGINT) AS allocated_bytes,
        CAST(SUM(CASE WHEN attached_vm IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS attached,
        CAST(SUM(CASE WHEN attach_state = 'idle' THEN 1 ELSE 0 END) AS BIGINT) AS idle
    FROM volumes GROUP BY vmgroup_id, datastore_url
),
usage_keys AS (
    SELECT vmgroup_id, datastore_url FROM usage
    UNION SELECT vmgroup_id, datastore_url FROM privileges WHERE datastore_url NOT IN ('{VM_DS_URL}', '{ALL_DS_URL}')
)
"""

# The limits on a datastore come from the row a VM living there is checked against: the datastore's
# own, else _VM_DS, else _ALL_DS (authz.first_privilege's order).
_LIMIT = "CASE WHEN p.vmgroup_id IS NOT NULL THEN p.{0} WHEN m.vmgroup_id IS NOT NULL THEN m.{0} ELSE a.{0} END"
_REPORT = f"""
WITH {_USAGE}
SELECT g.id, g.name, g.max_volumes, k.datastore_url,
    COALESCE(u.volumes, 0), COALESCE(u.provisioned_mb, 0), COALESCE(u.reserved_volumes, 0),
    COALESCE(u.reserved_mb, 0), COALESCE(u.allocated_bytes, 0), COALESCE(u.attached, 0), COALESCE(u.idle, 0),
    COALESCE(p.datastore_url, m.datastore_url, a.datastore_url),
    {_LIMIT.format("usage_quota")}, {_LIMIT.format("max_volume_count")}, {{label}}
FROM vmgroups g
LEFT JOIN usage_keys k ON k.vmgroup_id = g.id
LEFT JOIN usage u ON u.vmgroup_id = k.vmgroup_id AND u.datastore_url = k.datastore_url
LEFT JOIN privileges p ON p.vmgroup_id = k.vmgroup_id AND p.datastore_url = k.datastore_url
LEFT JOIN privileges m ON m.vmgroup_id = g.id AND m.datastore_url = '{VM_DS_URL}'
LEFT JOIN privileges a ON a.vmgroup_id = g.id AND a.datastore_url = '{ALL_DS_URL}'
{{label_join}}
"""
_VOLUMES = f"""
SELECT vmgroup_id, datastore_url, name, size_mb, allocated_bytes, attached_vm IS NOT NULL FROM volumes WHERE {_HELD}
"""
_LABEL_JOIN = "LEFT JOIN vmgroup_labels l ON l.vmgroup_id = g.id AND l.key = ?"

# SQLite reads "SELECT ... ON CONFLICT" as a join constraint unless the SELECT has a WHERE.
_SAMPLE = f"""
WITH {_USAGE}
INSERT INTO usage_samples (day, vmgroup_id, datastore_url, provisioned_mb, allocated_bytes, volumes)
SELECT ?, k.vmgroup_id, k.datastore_url, COALESCE(u.provisioned_mb, 0), COALESCE(u.allocated_bytes, 0),
    COALESCE(u.volumes, 0)
FROM usage_keys k
JOIN vmgroups g ON g.id = k.vmgroup_id
LEFT JOIN usage u ON u.vmgroup_id = k.vmgroup_id AND u.datastore_url = k.datastore_url
WHERE 1 = 1
ON CONFLICT (day, vmgroup_id, datastore_url) DO UPDATE SET provisioned_mb = excluded.provisioned_mb,
    allocated_bytes = excluded.allocated_bytes, volumes = excluded.volumes
"""


class UsageRows(StoreBase):
    def usage_rows(self, label_key: str | None = None) -> list[tuple[Any, ...]]:
        """One row per vmgroup and datastore it has volumes on or an access row for (one row with
        datastore None for a vmgroup with neither), from one query: (vmgroup id, name, max_volumes,
        datastore_url, volumes, provisioned_mb, reserved_volumes, reserved_mb, allocated_bytes,
        attached, idle, limits_from URL, usage_quota MB, max_volume_count, value of label
        ``label_key`` or None). Ordered by vmgroup name and datastore URL, by code point (as Python
        sorts: a database's collation may not). See ``usage.report``."""
        if label_key is None:
            rows = self._tuples(_REPORT.format(label="NULL", label_join=""))
        else:
            rows = self._tuples(_REPORT.format(label="l.value", label_join=_LABEL_JOIN), (label_key,))
        return sorted(rows, key=lambda row: (row[1], row[3] or ""))

    def volume_usage_rows(self) -> list[tuple[str, str, str, int, int, bool]]:
        """The volumes ``usage_rows`` counts, one by one: (vmgroup id, datastore URL, name, size MB,
        allocated bytes, attached). A plain read, without the options and states ``list_volumes``
        decodes: ten thousand rows stay a few milliseconds. See ``usage.volume_lines``."""
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), bool(r[5])) for r in self._tuples(_VOLUMES)]

    def record_usage_samples(self, day: str) -> int:
        """Today's figures (``day``: YYYY-MM-DD, UTC) as one ``usage_samples`` row per vmgroup and
        datastore, replacing the day's earlier ones: a pair whose volumes went since has none. How many."""
        with self._tx() as db:
            db.execute("DELETE FROM usage_samples WHERE day = ?", (day,))
            db.execute(_SAMPLE, (day,))
            return int(db.execute("SELECT COUNT(*) FROM usage_samples WHERE day = ?", (day,)).fetchone()[0])

    def usage_samples(self, since_day: str = "") -> list[tuple[str, str, str, int, int, int]]:
        """(day, vmgroup id, datastore URL, provisioned MB, allocated bytes, volumes) from ``since_day`` on."""
        return [
            (str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]))
            for r in self._tuples(
                "SELECT day, vmgroup_id, datastore_url, provisioned_mb, allocated_bytes, volumes FROM usage_samples "
                "WHERE day >= ? ORDER BY day, vmgroup_id, datastore_url",
                (since_day,),
            )
        ]

    def record_allocated(self, measured: Sequence[tuple[int, str, int]]) -> int:
        """Space in use measured by the sweep: (volume id, holder measured under, bytes). A volume
        detached (or taken over) since keeps what its detach measured, which is newer. How many changed."""
        changed = 0
        with self._tx() as db:
            for volume_id, holder, allocated in measured:
                cursor = db.execute(
                    "UPDATE volumes SET allocated_bytes = ? WHERE id = ? AND attached_vm = ?",
                    (allocated, volume_id, holder),
                )
                changed += int(cursor.rowcount)
        return changed
