"""Both stores: an extend's reservation holds the growth under the quota, and its commit."""

from __future__ import annotations

from functools import partial

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.extend import ExtendPlan
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import ConfigStore, VolumeConflict

ready = partial(seed.reserve, ready=True)
WHERE = ("_DEFAULT", "ds1")


def test_an_extend_takes_the_new_size_at_once_and_holds_it_until_finished(stores: Stores, store: ConfigStore) -> None:
    volume_id = ready(store, "db", 100)
    record = store.volume_by_id(volume_id)
    assert record is not None
    extending, before = store.begin_extend(record, ExtendPlan("db@ds1", 100, 300), 0, WHERE)
    assert (extending.state, extending.size_mb, before) == (VolumeState.EXTENDING, 300, 100)
    other = stores.open()
    assert other.usage_mb(DEFAULT_VMGROUP_ID, record.datastore_url) == 300  # the growth is held
    assert other.list_volumes() == []  # not ready meanwhile
    assert [r.id for r in other.unsettled_volumes(include_own=True)] == [volume_id]  # reconcile finds it
    done = store.finish_extend(volume_id, 300)
    assert (done.state, done.size_mb) == (VolumeState.READY, 300)
    assert other.list_volumes() == [done]
    with pytest.raises(VolumeConflict):
        store.finish_extend(volume_id, 400)  # only an extending row is finished


def test_racing_growth_cannot_pass_the_quota(stores: Stores, store: ConfigStore) -> None:
    a = store.volume_by_id(ready(store, "a", 100, 500))
    b = store.volume_by_id(ready(store, "b", 100, 500))
    assert a is not None and b is not None
    store.begin_extend(a, ExtendPlan("a@ds1", 100, 300), 500, WHERE)  # 400 of 500 held
    other = stores.open()
    with pytest.raises(VdvsError) as info:
        other.begin_extend(b, ExtendPlan("b@ds1", 100, 201), 500, WHERE)
    assert info.value.err is Err.EXTEND_QUOTA
    assert other.volume_by_id(b.id) == b  # nothing changed
    other.begin_extend(b, ExtendPlan("b@ds1", 100, 200), 500, WHERE)  # exactly the quota
    with pytest.raises(VdvsError):
        seed.reserve(other, "c", 1, 500)  # and a create sees it too


def test_an_extend_of_a_row_that_changed_meanwhile_is_a_conflict(store: ConfigStore) -> None:
    record = store.volume_by_id(ready(store, "db", 100))
    assert record is not None
    store.begin_extend(record, ExtendPlan("db@ds1", 100, 200), 0, WHERE)
    with pytest.raises(VolumeConflict):  # a second extend planned from the old row
        store.begin_extend(record, ExtendPlan("db@ds1", 100, 300), 0, WHERE)
