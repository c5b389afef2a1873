"""Store part: the audit trail (shared by every broker on the store), written in batches, pruned by age.

Audit writes do not move the tenancy generation: nothing a broker caches depends on them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vdvs.tenancy.audit import AuditQuery, AuditRecord, action_prefix
from vdvs.tenancy.events import KIND_EVENT, EventQuery
from vdvs.tenancy.store_base import StoreBase

_COLUMNS = (
    "id, at, kind, request_id, initiator, initiator_name, role, vmgroup_id, action, target, outcome, reason, details"
)


def _record(row: Any) -> AuditRecord:
    details = json.loads(row[12] or "{}")
    return AuditRecord(
        at=float(row[1]),
        kind=row[2],
        request_id=row[3],
        initiator=row[4],
        initiator_name=row[5],
        role=row[6],
        vmgroup_id=row[7],
        vmgroup=str(details.get("vmgroup", "")),
        action=row[8],
        target=row[9],
        outcome=row[10],
        reason=row[11],
        id=int(row[0]),
    )


class AuditRows(StoreBase):
    def add_audit(self, records: Sequence[AuditRecord]) -> None:
        """Write records, all in one transaction."""
        if not records:
            return
        with self._tx() as db:
            for r in records:
                db.execute(
                    "INSERT INTO audit (at, kind, request_id, initiator, initiator_name, role, vmgroup_id, action, "
                    "target, outcome, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.at,
                        r.kind,
                        r.request_id,
                        r.initiator,
                        r.initiator_name,
                        r.role,
                        r.vmgroup_id,
                        r.action,
                        r.target,
                        r.outcome,
                        r.reason,
                        r.details_json(),
                    ),
                )

    def list_audit(self, query: AuditQuery) -> list[AuditRecord]:
        """The newest ``query.limit`` records matching, oldest first."""
        if query.vmgroup_ids is not None and not query.vmgroup_ids:
            return []
        sql = f"SELECT {_COLUMNS} FROM audit WHERE at >= ?"
        args: list[Any] = [query.since]
        if query.vmgroup_ids is not None:
            ids = sorted(query.vmgroup_ids)
            sql += f" AND vmgroup_id IN ({','.join('?' * len(ids))})"
            args += ids
        if query.principal:
            sql += " AND (initiator = ? OR initiator_name = ?)"
            args += [query.principal, query.principal]
        if query.action:
            text, prefix = action_prefix(query.action)
            if prefix:
                sql += " AND substr(action, 1, ?) = ?"
                args += [len(text), text]
            else:
                sql += " AND action = ?"
                args.append(text)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        args.append(query.limit)
        return [_record(r) for r in reversed(self._db.execute(sql, args).fetchall())]

    def list_events(self, query: EventQuery) -> list[AuditRecord]:
        """Events (records of kind ``event``), oldest first: those after ``query.after_id`` (a follower's
        next page, in id order), else the newest ``query.limit``."""
        if query.vmgroup_ids is not None and not query.vmgroup_ids:
            return []
        sql = f"SELECT {_COLUMNS} FROM audit WHERE kind = ? AND id > ? AND at >= ?"
        args: list[Any] = [KIND_EVENT, query.after_id, query.since]
        if query.vmgroup_ids is not None:
            ids = sorted(query.vmgroup_ids)
            sql += f" AND vmgroup_id IN ({','.join('?' * len(ids))})"
            args += ids
        if query.after_id:
            rows = self._db.execute(sql + " ORDER BY id LIMIT ?", [*args, query.limit]).fetchall()
            return [_record(r) for r in rows]
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, query.limit]).fetchall()
        return [_record(r) for r in reversed(rows)]

    def last_audit_id(self) -> int:
        """The newest record's id (0 when none): where a follower starts."""
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
        return int(row[0])

    def prune_audit(self, before: float) -> int:
        """Delete the records older than ``before`` (epoch seconds); how many went."""
        with self._tx() as db:
            cursor = db.execute("DELETE FROM audit WHERE at < ?", (before,))
            return int(cursor.rowcount or 0)
