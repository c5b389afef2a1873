"""Ready volumes written straight into a config store, each with its sparse disk file.

Benchmarks and load tests need thousands of volumes; the broker makes a few hundred a second, so
they are seeded here, in the caller's transaction, exactly as a finished create leaves them.
"""

from __future__ import annotations

from pathlib import Path

from vdvs.tenancy.store import ConfigStore

MIB = 1024 * 1024


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
    record = store.reserve_volume(
        vmgroup_id,
        datastore_url,
        name,
        size_mb,
        0,
        options={"fstype": "ext4", "diskformat": "thin"},
        created=created,
        created_by=created_by,
        created_by_uuid=created_by_uuid,
    )
    store.finish_create(record.id)
    folder = datastore_dir / "dockvols" / vmgroup_id
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.vmdk", "wb") as fh:
        fh.truncate(size_mb * MIB)
