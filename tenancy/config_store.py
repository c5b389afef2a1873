"""``ConfigStore``: every query and change of the config store, whichever database a subclass connects to.

``SqliteStore`` (one file, the embedded default, in ``store_sqlite``) and
``PostgresStore`` (several brokers sharing datastores, in ``store_postgres``)
differ only in their connection and dialect hooks. A store object is used by
one thread at a time (the broker gives it a thread of its own).
"""

from __future__ import annotations

from vdvs.tenancy.store_admins import AdminRows
from vdvs.tenancy.store_audit import AuditRows
from vdvs.tenancy.store_certs import CertRows
from vdvs.tenancy.store_extend import ExtendRows
from vdvs.tenancy.store_grants import GrantRows
from vdvs.tenancy.store_moves import MoveRows
from vdvs.tenancy.store_policies import PolicyRows
from vdvs.tenancy.store_rules import RuleRows
from vdvs.tenancy.store_snapshots import SnapshotRows
from vdvs.tenancy.store_tokens import TokenRows
from vdvs.tenancy.store_usage import UsageRows
from vdvs.tenancy.store_views import ViewRows
from vdvs.tenancy.store_vmgroups import VmgroupRows
from vdvs.tenancy.store_volumes import VolumeRows


class ConfigStore(
    ExtendRows,  # first: it builds on VolumeRows
    VmgroupRows,
    VolumeRows,
    CertRows,
    AdminRows,
    GrantRows,
    AuditRows,
    ViewRows,
    RuleRows,
    UsageRows,
    TokenRows,
    PolicyRows,
    MoveRows,
    SnapshotRows,
):
    """Vmgroups, privileges, volumes (with reservations), certificates, the brokers serving them, admins,
    their grants, vmgroup labels, datastore shares, the audit trail, membership rules and VM labels, and
    the accounting of what each vmgroup holds, and join tokens, and storage policies."""
