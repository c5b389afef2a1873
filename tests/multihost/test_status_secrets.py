"""What an admin sees of a shared store: `vdvs status` and `config status` say MultiNode and show the
DSN with its password redacted; the password is in no log line, no status, no error text."""

from __future__ import annotations

import pytest

from testkit.broker_process import key_values
from testkit.postgres import PostgresCluster
from tests.multihost.conftest import VM_UUIDS, Pair
from tests.multihost.harness import bounded, outcomes
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.store_postgres import redact

MULTINODE = "MultiNode (shared PostgreSQL)"


async def test_status_of_both_brokers_shows_multinode_and_a_redacted_dsn(pair: Pair) -> None:
    shown = redact(pair.location)
    assert pair.password not in shown and "password=***" in shown
    pids = set()
    for node in (pair.a, pair.b):  # A has the DSN in its config file, B in an environment variable
        items = node.status()
        assert (items["Status"], items["DB_Mode"], items["DB_LocalPath"]) == ("Running", MULTINODE, "N/A")
        assert items["DB_SharedLocation"] == shown
        assert items["ConfigFile"] == str(node.config_path)
        data = node.js("status")
        assert (data["DB_Mode"], data["DB_SharedLocation"]) == (MULTINODE, shown)
        assert pair.password not in node.ok("status") + node.ok("status", "--json")
        pids.add(items["Pid"])
    assert len(pids) == 2  # two brokers, not one answering twice


async def test_config_status_shows_multinode_and_a_redacted_dsn(pair: Pair) -> None:
    for node in (pair.a, pair.b):
        out = node.ok("config", "status", "--config", str(node.config_path), admin=False)
        assert pair.password not in out
        items = key_values(out)
        assert items["DB_Mode"] == MULTINODE
        assert items["DB_SharedLocation"] == redact(pair.location)


async def test_config_init_on_a_shared_store_redacts_and_a_second_init_is_refused(pair: Pair) -> None:
    assert f"Creating new DB at {redact(pair.location)}" in pair.init_output
    assert pair.password not in pair.init_output
    again = pair.init(pair.b)  # B shares A's CA and store: already initialized
    assert again.rc == 2, again
    assert again.err.startswith("ERROR:Config DB is already initialized at ")
    assert pair.password not in again.out + again.err


async def test_the_password_appears_in_no_log_line(pair: Pair, pg_cluster: PostgresCluster) -> None:
    # debug logging, and work of every kind, including refusals and an internal error path
    for node in (pair.a, pair.b):
        node.stop()
        node.start(log_level="debug")
    vm1 = await pair.vm("vm1", VM_UUIDS["vm1"])
    await bounded(vm1.via(pair.a).create("v1", {"size": "10mb"}, []))
    await bounded(vm1.via(pair.b).get("v1"))
    refused = await outcomes(vm1.via(pair.b).create("v1", {"size": "10mb"}, []), vm1.via(pair.a).get("nope"))
    assert all(isinstance(r, BrokerError) for r in refused)
    pair.b.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    pair.a.ok("volume", "ls")
    pair.a.ok("vm", "revoke", "--uuid", VM_UUIDS["vm1"])
    for node in (pair.a, pair.b):
        node.stop()
    for node in (pair.a, pair.b):
        text = node.log()
        assert "stopping broker" in text  # the log is the real one, whole
        assert pair.password not in text, f"password in broker {node.name}'s log"
    # a broker given a wrong password: it stops with a clear reason that does not echo the secret
    wrong = pair.node("c", broker_id="broker-c")
    wrong.config.store_dsn = pg_cluster.dsn(pair.location.rsplit("dbname=", 1)[1], password="Wr0ng-Secret-99")
    wrong.write_config()
    with pytest.raises(AssertionError, match="exited with 1"):
        wrong.start(log_level="debug")
    text = wrong.log()
    assert "cannot open the config store: OperationalError" in text
    assert "password authentication failed" in text
    assert "Wr0ng-Secret-99" not in text and pair.password not in text
