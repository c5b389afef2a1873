"""The SQLite config store: vmgroups, privileges, volumes (with reservations), certificates.

One file, WAL journal, ``synchronous=FULL``. Each part (vmgroups, volumes,
certificates) is its own module; this class puts them on one connection. A
store object is used by one thread at a time (the broker gives it a thread
of its own).
"""

from __future__ import annotations

from vdvs.tenancy.store_base import StoreError, VolumeConflict
from vdvs.tenancy.store_certs import CertRows
from vdvs.tenancy.store_vmgroups import VmgroupRows
from vdvs.tenancy.store_volumes import VolumeRows

__all__ = ["SqliteStore", "StoreError", "VolumeConflict"]


class SqliteStore(VmgroupRows, VolumeRows, CertRows):
    """Config store on one SQLite file."""
