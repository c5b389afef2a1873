"""Volume rows written straight into a config store: the one seeding helper of tests and benchmarks.

Store tests need reservations and ready rows with chosen fields; benchmarks and load tests need
thousands of volumes, and the broker makes a few hundred a second. ``reserve`` writes a row as a
create leaves it (``creating``, or ``ready`` with ``ready=True``); ``seed_ready_volume`` adds the
sparse disk file a finished create leaves on a local datastore. Both run in the caller's
transaction when there is one.
"""

from __future__ import annotations

from pathlib import Path

from vdvs.tenancy.authz import CountLimits
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.store import ConfigStore

MIB = 1024 * 1024
DS_URL = "ds:///vmfs/volumes/ds1/"
CREATED = "Wed Mar  1 20:06:02 2017"  # vDVS's timestamp format
VM_NAME = "docker-vm-1"


def reserve(
    store: ConfigStore,
    name: str,
    size_mb: int = 100,
    quota_mb: int = 0,
    *,
    vmgroup_id: str = DEFAULT_VMGROUP_ID,
    datastore_url: str = DS_URL,
    options: VolumeOptions | None = None,
    created: str = CREATED,
    created_by: str = VM_NAME,
    created_by_uuid: str = "",
    ready: bool = False,
    allocated_bytes: int = 0,
    op_started: float | None = None,
    counts: CountLimits | None = None,
) -> int:
    """A row for ``name`` as the store's own reservation makes it (quota and ``counts`` checked); its id.

    ``ready``: then finished as a create finishes it (``allocated_bytes`` on disk). ``op_started``:
    the reservation started then (an old one, for lease and takeover tests).
    """
    record = store.reserve_volume(
        vmgroup_id,
        datastore_url,
        name,
        size_mb,
        quota_mb,
        options=options or VolumeOptions(),
        created=created,
        created_by=created_by,
        created_by_uuid=created_by_uuid,
        counts=counts,
    )
    if op_started is not None:
        with store.transaction() as db:
            db.execute("UPDATE volumes SET op_started = ? WHERE id = ?", (op_started, record.id))
    if ready:
        store.finish_create(record.id, allocated_bytes)
    return record.id


def seed_ready_volume(
    store: ConfigStore,
    vmgroup_id: str,
    datastore_url: str,
    datastore_dir: Path,
    name: str,
    *,
    size_mb: int,
    created: str,
    created_by: str,
    created_by_uuid: str = "",
) -> None:
    """A ``ready`` ext4/thin row and ``dockvols/<vmgroup id>/<name>.vmdk`` of ``size_mb`` (sparse)."""
    reserve(store, name, size_mb, vmgroup_id=vmgroup_id, datastore_url=datastore_url,
            options=VolumeOptions(fstype="ext4"), created=created, created_by=created_by,
            created_by_uuid=created_by_uuid, ready=True)  # fmt: skip
    folder = datastore_dir / "dockvols" / vmgroup_id
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.vmdk", "wb") as fh:
        fh.truncate(size_mb * MIB)
