"""`vdvs config mv`: move a config store (SQLite to PostgreSQL) with nothing lost.

The target must hold no vmgroup, VM, volume or certificate of its own beyond a
fresh store's defaults. Everything is copied in one transaction on the target
and counted on both sides before it commits; the source is left untouched.
"""

from __future__ import annotations

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.store import ConfigStore

TABLES = (  # parents before children
    "vmgroups",
    "vms",
    "privileges",
    "volumes",
    "certs",
    "admins",
    "grants",
    "vmgroup_labels",
    "datastore_shares",
    "membership_rules",
    "vm_labels",
    "audit",
    "usage_samples",
    "join_tokens",
    "policies",
)


def _is_fresh(store: ConfigStore) -> bool:
    if store.schema_version() == 0:
        return True
    groups = [g.id for g in store.list_vmgroups()]
    return (
        groups in ([], [DEFAULT_VMGROUP_ID])
        and not store.known_vms()
        and not store.list_volumes(None, states=tuple(store.ALL_STATES))
    )


def copy_store(source: ConfigStore, target: ConfigStore) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; return rows copied per table."""
    source.check_ready()  # migrates an older source first
    if not _is_fresh(target):
        raise VdvsError(Err.INTERNAL_ERROR, f"target config store {target.location} is not empty")
    target.initialize()
    counts = {}
    with target.transaction():
        for table in reversed(TABLES):  # a fresh store's own _DEFAULT rows make way for the source's
            target.clear_table(table)
        for table in TABLES:
            columns, rows = source.export_rows(table)
            target.import_rows(table, columns, rows)
            counts[table] = len(rows)
        target.after_import()
        for table in TABLES:
            copied = len(target.export_rows(table)[1])
            if copied != counts[table]:
                raise VdvsError(Err.INTERNAL_ERROR, f"{table}: {counts[table]} rows read, {copied} written")
    return counts
