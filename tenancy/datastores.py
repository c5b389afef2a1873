"""Datastore names as admins type them (a real name, ``_VM_DS``, ``_ALL_DS``) and their stable URLs.

Rows keep URLs, as vDVS did, so a renamed datastore keeps its privileges and volumes.
"""

from __future__ import annotations

from collections.abc import Sequence

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import ALL_DS, ALL_DS_URL, VM_DS, VM_DS_URL, DatastoreRef
from vdvs.tenancy.names import match_datastore


def datastore_url(name: str, datastores: Sequence[DatastoreRef]) -> str:
    """URL of a datastore name (case-insensitive) or of a special name; DS_NOT_EXIST otherwise."""
    if name == VM_DS:
        return VM_DS_URL
    if name == ALL_DS:
        return ALL_DS_URL
    canonical = match_datastore(name, [d.name for d in datastores]) if name else None
    if canonical is None:
        raise VdvsError(Err.DS_NOT_EXIST, name)
    return next(d.url for d in datastores if d.name == canonical)


def datastore_name(url: str, datastores: Sequence[DatastoreRef]) -> str:
    """Display name of a row's URL: the special names literally, '' when the datastore is gone."""
    if url == VM_DS_URL:
        return VM_DS
    if url == ALL_DS_URL:
        return ALL_DS
    return next((d.name for d in datastores if d.url == url), "")
