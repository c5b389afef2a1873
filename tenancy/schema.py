"""Config-store schema and its migrations (one list, applied in order).

Version N of the schema is ``MIGRATIONS[:N]`` applied to an empty database;
``schema_version`` holds N. A store opened by an older vdvs is migrated
forward on open; one written by a newer vdvs is refused, never downgraded.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: vmgroups, membership, privileges, volumes (with reservations), certificates
    """
    CREATE TABLE vmgroups (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        default_datastore_url TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE vms (
        vm_id TEXT PRIMARY KEY,
        vmgroup_id TEXT NOT NULL REFERENCES vmgroups(id),
        vm_name TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE privileges (
        vmgroup_id TEXT NOT NULL REFERENCES vmgroups(id),
        datastore_url TEXT NOT NULL,
        allow_create INTEGER NOT NULL,
        max_volume_size INTEGER NOT NULL DEFAULT 0,
        usage_quota INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (vmgroup_id, datastore_url)
    );
    CREATE TABLE volumes (
        id INTEGER PRIMARY KEY,
        vmgroup_id TEXT NOT NULL,
        datastore_url TEXT NOT NULL,
        name TEXT NOT NULL,
        size_mb INTEGER NOT NULL,
        state TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        created_by_uuid TEXT NOT NULL DEFAULT '',
        attached_vm TEXT,
        attached_vm_name TEXT,
        attach_state TEXT,
        device TEXT,
        UNIQUE (vmgroup_id, datastore_url, name)
    );
    CREATE INDEX volumes_attached_vm ON volumes(attached_vm);
    CREATE INDEX volumes_state ON volumes(state);
    CREATE TABLE certs (
        serial TEXT PRIMARY KEY,
        vm_uuid TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        not_after TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX certs_vm_uuid ON certs(vm_uuid);
    """,
    # 2: space in use per volume, measured at create and detach, so admin listings need no disk access
    """
    ALTER TABLE volumes ADD COLUMN allocated_bytes INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX volumes_vmgroup ON volumes(vmgroup_id);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
