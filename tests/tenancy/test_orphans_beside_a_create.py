"""`volume ls` scans the datastores beside reading the rows: a volume created between the two has a
disk the rows missed. It must not be shown as an orphan; a disk that no row names at all still is."""

from __future__ import annotations

from pathlib import Path

from testkit.seed import seed_ready_volume
from vdvs.broker.backends.base import DiskRef
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, DatastoreRef
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore
from vdvs.tenancy.volume_admin import list_volume_rows, orphan_columns


def test_a_disk_created_after_the_rows_were_read_is_no_orphan(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "config.db")
    store.initialize()
    ds_dir = tmp_path / "ds1"
    ds_dir.mkdir()
    refs = [DatastoreRef("ds1", ds_dir.as_uri())]
    before = list_volume_rows(store, refs, {"ds1": "local"})  # the rows, read first
    assert before.columns[0] == []
    with store.transaction():  # then a VM's create lands, before the datastore scan
        seed_ready_volume(store, DEFAULT_VMGROUP_ID, ds_dir.as_uri(), ds_dir, "fresh", size_mb=8,
                          created=vdvs_timestamp(), created_by="vm1")  # fmt: skip
    disks = [DiskRef("ds1", DEFAULT_VMGROUP_ID, "fresh"), DiskRef("ds1", "no-such-group", "lost")]
    names, datastores, vmgroups, *_ = orphan_columns(store, refs, before, disks)
    assert (names, datastores, vmgroups) == (["lost"], ["ds1"], ["N/A"])
    store.close()
