"""What only the PostgreSQL store has: DSN redaction, reconnecting after the server drops the
connection, and reservation locks scoped to one (vmgroup, datastore)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from testkit.postgres import PostgresCluster
from testkit.seed import reserve
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.store_postgres import PostgresStore, redact

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
UNCANCELED_S = 30  # how long the statement that statement_timeout cancels would run


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("host=db user=vdvs password=s3cret dbname=vdvs", "host=db user=vdvs password=*** dbname=vdvs"),
        ("host=db password = s3cret dbname=vdvs", "host=db password = *** dbname=vdvs"),
        ("host=db password='s3 cret' dbname=vdvs", "host=db password=*** dbname=vdvs"),
        ("host=db password='it\\'s s3cret' port=5432", "host=db password=*** port=5432"),
        ("host=db password=p@ss/s3cret dbname=vdvs", "host=db password=*** dbname=vdvs"),
        ("host=db sslpassword=s3cret sslkey=/k", "host=db sslpassword=*** sslkey=/k"),
        ("postgresql://vdvs:s3cret@db:5432/vdvs", "postgresql://vdvs:***@db:5432/vdvs"),
        ("postgres://vdvs:p@ss/s3cret@db/vdvs", "postgres://vdvs:***@db/vdvs"),
        ("postgresql://vdvs@db/vdvs?password=s3cret&sslmode=require", "postgresql://vdvs@db/vdvs?password=***&sslmode=require"),
        ("postgresql://db1,db2/vdvs?target_session_attrs=read-write", "postgresql://db1,db2/vdvs?target_session_attrs=read-write"),
        ("host=/run/postgresql dbname=vdvs", "host=/run/postgresql dbname=vdvs"),
    ],
)  # fmt: skip
def test_redact_hides_every_password_spelling_libpq_accepts(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown
    assert "s3cret" not in redact(dsn)


@pytest.fixture
def dsn(pg_dsn: str) -> str:
    return pg_dsn


@pytest.fixture
def pg(dsn: str) -> Iterator[PostgresStore]:
    store = PostgresStore(dsn)
    store.initialize()
    try:
        yield store
    finally:
        store.close()


def _kill_backend(dsn: str, store: PostgresStore) -> None:
    """What a PostgreSQL restart or failover does to a broker's connection: the server ends it."""
    pid = store._db.conn._conn.info.backend_pid
    with psycopg.connect(dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there 10 s after pg_terminate_backend"
            time.sleep(0.02)


def test_the_password_is_required_and_never_shown(pg_cluster: PostgresCluster, dsn: str, pg: PostgresStore) -> None:
    assert pg_cluster.password not in pg.location
    assert pg.location == dsn.replace(pg_cluster.password, "***")
    wrong = dsn.replace(pg_cluster.password, "wrong-Secret-42")
    with pytest.raises(psycopg.OperationalError) as info:
        PostgresStore(wrong)
    assert "password authentication failed" in str(info.value)
    assert "wrong-Secret-42" not in str(info.value)


def test_rows_read_by_position_and_by_name(pg: PostgresStore) -> None:
    row = pg._db.execute("SELECT id, name FROM vmgroups WHERE id = ?", (DEFAULT_VMGROUP_ID,)).fetchone()
    assert row is not None
    assert (row[0], row["name"], tuple(row)) == (DEFAULT_VMGROUP_ID, "_DEFAULT", (DEFAULT_VMGROUP_ID, "_DEFAULT"))


def test_a_dropped_connection_is_replaced_between_transactions(dsn: str, pg: PostgresStore) -> None:
    _kill_backend(dsn, pg)
    assert pg.get_vmgroup(DEFAULT_VMGROUP_ID) is not None  # reconnected, transparently
    _kill_backend(dsn, pg)
    record = pg.reserve_volume(
        DEFAULT_VMGROUP_ID, DS1, "v", 10, 0, options=VolumeOptions(), created="", created_by="", created_by_uuid=""
    )
    assert pg.volume_by_id(record.id) == record


def test_a_connection_dropped_inside_a_transaction_fails_that_change_only(dsn: str, pg: PostgresStore) -> None:
    with pytest.raises(psycopg.OperationalError), pg.transaction() as db:
        db.execute("INSERT INTO vms (vm_id, vmgroup_id, vm_name) VALUES (?, ?, ?)", ("vm-1", DEFAULT_VMGROUP_ID, "a"))
        _kill_backend(dsn, pg)
        db.execute("INSERT INTO vms (vm_id, vmgroup_id, vm_name) VALUES (?, ?, ?)", ("vm-2", DEFAULT_VMGROUP_ID, "b"))
    assert pg.known_vms() == {}  # neither half was kept
    pg.add_vm("vm-3", DEFAULT_VMGROUP_ID, "c")  # and the store works again
    assert pg.known_vms() == {"vm-3": "c"}


def test_a_failed_statement_is_not_retried_on_a_new_connection(pg: PostgresStore) -> None:
    """A statement canceled by the server (statement_timeout) is an error of that statement: the
    connection is fine and kept (not silently replaced, the statement not run a second time)."""
    pid = pg._db.conn._conn.info.backend_pid
    pg._db.execute("SET statement_timeout = 100")
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled):
        pg._db.execute(f"SELECT pg_sleep({UNCANCELED_S})")
    assert time.monotonic() - started < UNCANCELED_S / 2  # canceled, not slept through (nor run twice)
    pg._db.execute("SET statement_timeout = 0")
    assert pg._db.conn._conn.info.backend_pid == pid
    with pytest.raises(psycopg.errors.QueryCanceled), pg.transaction() as db:
        db.execute("SET LOCAL statement_timeout = 100")
        db.execute("SELECT pg_sleep(2)")
    assert pg.get_vmgroup(DEFAULT_VMGROUP_ID) is not None  # the rolled-back connection goes on
    assert pg._db.conn._conn.info.backend_pid == pid


def test_a_reservation_waits_only_for_its_own_vmgroup_and_datastore(dsn: str, pg: PostgresStore) -> None:
    holder = PostgresStore(dsn)
    others = [PostgresStore(dsn), PostgresStore(dsn)]
    done: dict[str, float] = {}

    def reserve_at(store: PostgresStore, url: str, name: str) -> None:
        reserve(store, name, 10, 100, datastore_url=url)
        done[name] = time.monotonic()

    try:
        with holder.transaction():
            holder._lock_usage(DEFAULT_VMGROUP_ID, DS1)  # a reservation on ds1 in progress on another broker
            threads = [
                threading.Thread(target=reserve_at, args=(others[0], DS1, "same")),
                threading.Thread(target=reserve_at, args=(others[1], DS2, "elsewhere")),
            ]
            for t in threads:
                t.start()
            threads[1].join(timeout=20)
            assert "elsewhere" in done  # another datastore: not held up
            time.sleep(0.5)
            assert "same" not in done  # the same (vmgroup, datastore): waits for the lock
            released = time.monotonic()
        threads[0].join(timeout=20)
        assert done["same"] >= released
    finally:
        for s in (holder, *others):
            s.close()
