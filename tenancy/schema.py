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
        allow_create {int} NOT NULL,
        max_volume_size {int} NOT NULL DEFAULT 0,
        usage_quota {int} NOT NULL DEFAULT 0,
        PRIMARY KEY (vmgroup_id, datastore_url)
    );
    CREATE TABLE volumes (
        id {serial_pk},
        vmgroup_id TEXT NOT NULL,
        datastore_url TEXT NOT NULL,
        name TEXT NOT NULL,
        size_mb {int} NOT NULL,
        state TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{{}}',
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
        revoked {int} NOT NULL DEFAULT 0
    );
    CREATE INDEX certs_vm_uuid ON certs(vm_uuid);
    """,
    # 2: space in use per volume, measured at create and detach, so admin listings need no disk access
    """
    ALTER TABLE volumes ADD COLUMN allocated_bytes {int} NOT NULL DEFAULT 0;
    CREATE INDEX volumes_vmgroup ON volumes(vmgroup_id);
    """,
    # 3: which broker started a volume's in-between state, and when: with several brokers on one
    # store, a restarting broker settles only its own interrupted operations (or abandoned ones)
    """
    ALTER TABLE volumes ADD COLUMN op_broker TEXT;
    ALTER TABLE volumes ADD COLUMN op_started {real};
    """,
    # 4: a generation every tenancy or identity change bumps (brokers cache identities, vmgroups and
    # privileges until it moves); idle attachments; brokers seen, so a sweep can tell a live broker's
    # operation from one whose broker is gone
    """
    CREATE TABLE generation (value {int} NOT NULL);
    INSERT INTO generation VALUES (1);
    ALTER TABLE volumes ADD COLUMN idle_since {real};
    CREATE TABLE brokers (
        id TEXT PRIMARY KEY,
        started {real} NOT NULL,
        seen {real} NOT NULL,
        version TEXT NOT NULL DEFAULT ''
    );
    """,
    # 5: delegated administration (ViPR, NSX Projects, Sveltos): admin principals with certificates of
    # their own, role grants on a vmgroup or a label selector, vmgroup labels, datastores shared into
    # vmgroups with ceilings, membership by rules, VM labels, and the audit trail
    """
    CREATE TABLE admins (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        principals TEXT NOT NULL DEFAULT '[]',
        serial TEXT NOT NULL UNIQUE,
        not_after TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        revoked {int} NOT NULL DEFAULT 0
    );
    CREATE INDEX admins_name ON admins(name);
    CREATE TABLE grants (
        id {serial_pk},
        principal TEXT NOT NULL,
        role TEXT NOT NULL,
        vmgroup_id TEXT NOT NULL DEFAULT '',
        selector TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL DEFAULT '',
        UNIQUE (principal, role, vmgroup_id, selector)
    );
    CREATE TABLE vmgroup_labels (
        vmgroup_id TEXT NOT NULL REFERENCES vmgroups(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (vmgroup_id, key)
    );
    CREATE TABLE datastore_shares (
        id {serial_pk},
        datastore_url TEXT NOT NULL,
        vmgroup_id TEXT NOT NULL DEFAULT '',
        selector TEXT NOT NULL DEFAULT '',
        max_volume_size {int} NOT NULL DEFAULT 0,
        max_total {int} NOT NULL DEFAULT 0,
        UNIQUE (datastore_url, vmgroup_id, selector)
    );
    CREATE TABLE membership_rules (
        id {serial_pk},
        vmgroup_id TEXT NOT NULL REFERENCES vmgroups(id),
        expr TEXT NOT NULL,
        priority {int} NOT NULL UNIQUE,
        created TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE vm_labels (
        vm_uuid TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (vm_uuid, key)
    );
    CREATE TABLE audit (
        id {serial_pk},
        at {real} NOT NULL,
        kind TEXT NOT NULL DEFAULT 'audit',
        request_id TEXT NOT NULL DEFAULT '',
        initiator TEXT NOT NULL DEFAULT '',
        initiator_name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT '',
        vmgroup_id TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{{}}'
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE INDEX audit_vmgroup_at ON audit(vmgroup_id, at);
    """,
    # 6: accounting (DuploCloud, NSX constraints, Cinder usage): volume-count limits per vmgroup and
    # datastore and per vmgroup (NULL: no limit; 0 forbids creating), alert thresholds, and daily
    # usage samples for trends
    """
    ALTER TABLE privileges ADD COLUMN max_volume_count {int};
    ALTER TABLE privileges ADD COLUMN alert_at {int};
    ALTER TABLE vmgroups ADD COLUMN max_volumes {int};
    CREATE TABLE usage_samples (
        day TEXT NOT NULL,
        vmgroup_id TEXT NOT NULL,
        datastore_url TEXT NOT NULL,
        provisioned_mb {int} NOT NULL,
        allocated_bytes {int} NOT NULL,
        volumes {int} NOT NULL,
        PRIMARY KEY (day, vmgroup_id, datastore_url)
    );
    """,
    # 7: enrollment at scale and rotation: join tokens (only a hash of each secret is kept; a use is
    # taken by one conditional UPDATE, so concurrent joins cannot overspend one), and the time a
    # renewed certificate's predecessor is revoked at (its grace period)
    """
    CREATE TABLE join_tokens (
        id TEXT PRIMARY KEY,
        secret_sha256 TEXT NOT NULL,
        vmgroup_id TEXT NOT NULL,
        max_uses {int} NOT NULL,
        uses_left {int} NOT NULL,
        expires {real} NOT NULL,
        created {real} NOT NULL,
        created_by TEXT NOT NULL DEFAULT ''
    );
    ALTER TABLE certs ADD COLUMN revoke_at {real};
    """,
    # 8 (policies): vSAN storage policies by name, and on an access row the vmgroup's default policy
    # there (NULL: none) and the policies it may name (comma-separated; '': any)
    """
    CREATE TABLE policies (
        name TEXT PRIMARY KEY,
        content TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT '',
        updated TEXT NOT NULL DEFAULT ''
    );
    ALTER TABLE privileges ADD COLUMN storage_policy TEXT;
    ALTER TABLE privileges ADD COLUMN allowed_policies TEXT NOT NULL DEFAULT '';
    """,
    # 9 (moves): moves between datastores (vdvs volume move): the other end of a move under way, a datastore URL:
    # the target's on the 'moving' row, the source's on its 'arriving' reservation on the target
    """
    ALTER TABLE volumes ADD COLUMN move_peer TEXT;
    """,
    # 10 (snapshots): a snapshot is a volume row naming the volume it was taken of (its parent),
    # and a vmgroup may let removing a volume remove its snapshots with it (cascading delete)
    """
    ALTER TABLE volumes ADD COLUMN parent_id {int};
    CREATE INDEX volumes_parent ON volumes(parent_id);
    ALTER TABLE vmgroups ADD COLUMN cascade_delete {int} NOT NULL DEFAULT 0;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

# The few words the two SQL dialects spell differently, filled into MIGRATIONS with str.format.
DDL_WORDS = {
    # SQLite's INTEGER is 64-bit and its REAL a double; PostgreSQL's INTEGER is 32-bit and its REAL
    # single precision (allocated bytes pass 2 GiB; epoch seconds need more than 24 bits).
    "sqlite": {"serial_pk": "INTEGER PRIMARY KEY", "int": "INTEGER", "real": "REAL"},
    "postgres": {
        "serial_pk": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "int": "BIGINT",
        "real": "DOUBLE PRECISION",
    },
}
