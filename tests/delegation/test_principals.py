"""Admin principals end to end: who gets in on which port, revocation and ungrant from the next call on,
selector grants reaching later vmgroups, the creator's vmgroups, nothing of another vmgroup shown."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

from testkit.broker_process import CLI_TIMEOUT_S, VDVS, cli_env
from tests.delegation.harness import Denv
from tests.tenancy.harness import VM_UUIDS, vm_refused
from vdvs.broker.pki import CertificateAuthority
from vdvs.cli.admin_client import ADMIN_CERT_FILE, ADMIN_KEY_FILE, AdminClient, AdminError, Target
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import CA_FILE, CERT_FILE, KEY_FILE, Bundle, read_bundle, write_bundle
from vdvs.proto import admin_pb2
from vdvs.tenancy.admins import KIND_CERT, AdminRecord
from vdvs.tenancy.store import SqliteStore

VM_CERT_REFUSED = "Client certificate carries no admin identity (a VM certificate is refused here)"


def setup_own(env: Denv) -> None:
    env.ok("vmgroup", "create", "--name", "own", "--default-datastore", "local1", "--label", "team=own")
    env.ok("vmgroup", "create", "--name", "other", "--default-datastore", "local1", "--label", "team=other")


async def test_a_vm_certificate_is_refused_on_the_admin_port_and_an_admin_certificate_on_the_volume_port(
    denv: Denv,
) -> None:
    vm_bundle = denv.enroll("vm1", VM_UUIDS["vm1"], denv.root / "bundles" / "vm1")
    as_admin = denv.root / "vm-as-admin"
    vm = read_bundle(vm_bundle)
    write_bundle(as_admin, vm, ADMIN_CERT_FILE, ADMIN_KEY_FILE)
    res = denv.run("vmgroup", "ls", "--broker", denv.admin_address, "--bundle", str(as_admin), admin=False)
    assert (res.rc, res.out, res.err) == (2, "", f"ERROR:{VM_CERT_REFUSED}\n")
    alice = denv.admin("alice")
    assert alice.bundle is not None
    client = BrokerClient(denv.address, read_bundle(alice.bundle, ADMIN_CERT_FILE, ADMIN_KEY_FILE), retry_budget_s=0)
    try:
        error = await vm_refused(client.get("anything"))
    finally:
        await client.close()
    assert error.message == "Client certificate carries no VM identity"


async def test_certificates_unknown_foreign_or_expired_are_refused_with_the_reason(denv: Denv) -> None:
    ca = CertificateAuthority(denv.config.pki_dir)
    # issued by our CA but never recorded
    stray = ca.issue_admin_cert("stray", str(uuid.uuid4()), 30)
    write_bundle(
        denv.root / "stray", Bundle(ca.ca_pem(), stray.cert_pem, stray.key_pem), ADMIN_CERT_FILE, ADMIN_KEY_FILE
    )
    res = denv.run("status", "--broker", denv.admin_address, "--bundle", str(denv.root / "stray"), admin=False)
    assert (res.rc, res.err) == (2, f"ERROR:Admin certificate {stray.serial} was not issued by this broker\n")
    # recorded, but its record says it has expired
    admin_id = str(uuid.uuid4())
    old = ca.issue_admin_cert("old", admin_id, 30)
    write_bundle(denv.root / "old", Bundle(ca.ca_pem(), old.cert_pem, old.key_pem), ADMIN_CERT_FILE, ADMIN_KEY_FILE)
    store = SqliteStore(denv.config.store_path)
    try:
        past = "2020-01-01T00:00:00+00:00"
        store.add_admin(AdminRecord(admin_id, "old", KIND_CERT, ("admin:old",), old.serial, past, past))
    finally:
        store.close()
    res = denv.run("status", "--broker", denv.admin_address, "--bundle", str(denv.root / "old"), admin=False)
    assert (res.rc, res.err) == (2, f"ERROR:Certificate {old.serial} of admin old expired at {past}\n")
    # from another CA: the handshake fails
    other = CertificateAuthority(denv.root / "other-ca")
    other.create()
    foreign = other.issue_admin_cert("alice", str(uuid.uuid4()), 30)
    write_bundle(
        denv.root / "foreign", Bundle(ca.ca_pem(), foreign.cert_pem, foreign.key_pem), ADMIN_CERT_FILE, ADMIN_KEY_FILE
    )
    res = denv.run("vmgroup", "ls", "--broker", denv.admin_address, "--bundle", str(denv.root / "foreign"), admin=False)
    assert res.rc == 1 and res.out == ""
    assert res.err.startswith(
        f"ERROR:Cannot reach the vdvs broker at {denv.admin_address}, or it refused the admin certificate in "
        f"{denv.root / 'foreign'}: "
    ), res.err
    res = denv.run("vmgroup", "ls", "--broker", denv.admin_address, "--bundle", str(denv.root / "none"), admin=False)
    assert (res.rc, res.err) == (
        1,
        f"ERROR:no admin bundle in {denv.root / 'none'}: ca.pem is missing (write one with 'vdvs admin enroll "
        "NAME --out DIR' on the broker's host)\n",
    )


async def test_an_admin_bundle_is_a_ca_a_certificate_and_a_private_key(denv: Denv) -> None:
    out = denv.ok("admin", "enroll", "alice", "--out", str(denv.root / "alice"), "--days", "30")
    bundle = denv.root / "alice"
    assert sorted(p.name for p in bundle.iterdir()) == [ADMIN_KEY_FILE, ADMIN_CERT_FILE, CA_FILE]
    assert (bundle / ADMIN_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert bundle.stat().st_mode & 0o777 == 0o700
    assert not (bundle / CERT_FILE).exists() and not (bundle / KEY_FILE).exists()
    [admin] = denv.js("admin", "ls")
    assert out == (
        f"Enrolled admin alice (principal admin:alice): certificate {admin['serial']} valid until "
        f"{admin['not_after']}, bundle in {bundle}"
    )
    not_after = dt.datetime.fromisoformat(admin["not_after"])
    assert dt.timedelta(days=29) < not_after - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    assert (admin["name"], admin["kind"], admin["principals"], admin["status"]) == (
        "alice",
        "cert",
        ["admin:alice"],
        "active",
    )
    assert denv.refused("admin", "enroll", "bad name", "--out", str(denv.root / "x")) == (
        "Admin name bad name is invalid, only [a-zA-Z0-9_][a-zA-Z0-9_.@-]* (at most 64 characters) is allowed"
    )
    assert denv.refused("admin", "revoke", "nobody") == "Admin nobody does not exist"


async def test_a_revoked_admin_is_refused_from_its_next_call(denv: Denv) -> None:
    setup_own(denv)
    alice = denv.admin("alice")
    denv.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-viewer", "--vmgroup", "own")
    assert [g["name"] for g in alice.js("vmgroup", "ls")] == ["own"]
    [admin] = denv.js("admin", "ls")
    assert denv.ok("admin", "revoke", "alice") == f"Revoked 1 certificate(s) of admin alice: {admin['serial']}"
    assert alice.refused("vmgroup", "ls") == f"Certificate {admin['serial']} of admin alice has been revoked"
    assert denv.js("admin", "ls")[0]["status"] == "revoked"


async def test_an_ungrant_in_the_middle_of_a_sequence_refuses_the_next_call(denv: Denv) -> None:
    setup_own(denv)
    alice = denv.admin("alice")
    grant = ("--principal", "admin:alice", "--role", "vmgroup-admin", "--vmgroup", "own")
    denv.ok("admin", "grant", *grant)
    assert alice.ok("vmgroup", "update", "--name", "own", "--description", "one") == "vmgroup modify succeeded"
    denv.ok("admin", "ungrant", *grant)
    assert alice.refused("vmgroup", "update", "--name", "own", "--description", "two") == (
        "admin:alice has no vmgroup-admin grant on vmgroup own"
    )
    assert next(g for g in denv.js("vmgroup", "ls") if g["name"] == "own")["description"] == "one"

    # concurrently: calls in a loop while root removes the grant; every call begun after the removal
    # returned is refused, and none succeeds after the first refusal
    denv.ok("admin", "grant", *grant)
    assert alice.bundle is not None
    target = Target(broker=denv.admin_address, bundle=alice.bundle)
    calls: list[tuple[float, float, str]] = []
    stop = threading.Event()

    def loop() -> None:
        with AdminClient(target) as client:
            while not stop.is_set():
                begun = time.monotonic()
                try:
                    client.call("AccessList", admin_pb2.VmgroupRef(name="own"))
                    outcome = "ok"
                except AdminError as exc:
                    outcome = exc.message
                calls.append((begun, time.monotonic(), outcome))

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        denv.call("GrantRemove", admin_pb2.GrantRequest(principal="admin:alice", role="vmgroup-admin", vmgroup="own"))
        removed = time.monotonic()
        while not any(begun > removed for begun, _, _ in calls) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=60)
    refusal = "admin:alice has no vmgroup-viewer grant on vmgroup own"
    assert calls[0][2] == "ok"
    after = [outcome for begun, _, outcome in calls if begun > removed]
    assert after and set(after) == {refusal}
    first_refused = next(i for i, (_, _, outcome) in enumerate(calls) if outcome != "ok")
    assert {outcome for _, _, outcome in calls[first_refused:]} == {refusal}


async def test_a_selector_grant_reaches_vmgroups_labelled_later_and_leaves_those_relabelled(denv: Denv) -> None:
    setup_own(denv)
    alice = denv.admin("alice")
    denv.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-admin", "--selector", "team=own")
    assert [g["name"] for g in alice.js("vmgroup", "ls")] == ["own"]
    denv.ok("vmgroup", "create", "--name", "late", "--default-datastore", "local1", "--label", "team=own")
    assert [g["name"] for g in alice.js("vmgroup", "ls")] == ["late", "own"]
    assert alice.ok("vmgroup", "update", "--name", "late", "--description", "mine") == "vmgroup modify succeeded"
    assert alice.refused("vmgroup", "update", "--name", "late", "--label", "team=") == (
        "admin:alice has no platform-admin grant: only platform admins change vmgroup labels"
    )
    denv.ok("vmgroup", "update", "--name", "late", "--label", "team=", "--label", "env=prod")
    late = next(g for g in denv.js("vmgroup", "ls") if g["name"] == "late")
    assert late["labels"] == {"env": "prod"}
    _, rows = denv.table("vmgroup", "ls")
    assert next(r for r in rows if r[1] == "own")[5] == "team=own"
    assert [g["name"] for g in alice.js("vmgroup", "ls")] == ["own"]
    assert alice.refused("vmgroup", "access", "ls", "--name", "late") == (
        "admin:alice has no vmgroup-viewer grant on vmgroup late"
    )


async def test_a_creator_creates_within_its_selector_and_administers_what_it_created(denv: Denv) -> None:
    setup_own(denv)
    denv.enroll("vm4", VM_UUIDS["vm4"], denv.root / "bundles" / "vm4")
    cora = denv.admin("cora")
    denv.ok("admin", "grant", "--principal", "admin:cora", "--role", "vmgroup-creator", "--selector", "team=own")
    assert cora.refused("vmgroup", "create", "--name", "mine", "--default-datastore", "local2") == (
        "Datastore local2 is not shared into vmgroup mine"
    )
    denv.ok("datastore", "share", "--datastore", "local2", "--selector", "team=own", "--max-total", "2GB")
    assert cora.ok("vmgroup", "create", "--name", "mine", "--default-datastore", "local2") == (
        "vmgroup 'mine' is created. Do not forget to run 'vmgroup vm add' to add vm to vmgroup."
    )
    assert [(g["name"], g["labels"]) for g in cora.js("vmgroup", "ls")] == [("mine", {"team": "own"})]
    assert cora.ok("vmgroup", "vm", "add", "--name", "mine", "--vm-list", "vm4") == "vmgroup vm add succeeded"
    assert cora.js("vmgroup", "access", "ls", "--name", "mine") == [
        {
            "datastore": "local2",
            "allow_create": True,
            "max_volume_size_mb": "0",
            "usage_quota_mb": "2048",
            "max_volume_size": "Unset",
            "usage_quota": "2.00GB",
            "volume_count": "Unset",  # a share has no count ceiling: the creator's row has no count limit
            "alert_at": "Unset",  # nor an alert threshold
            "storage_policy": "",  # nor a default storage policy
            "allowed_policies": [],
        }
    ]
    assert [(g["role"], g["vmgroup"], g["selector"]) for g in cora.js("admin", "grants")] == [
        ("vmgroup-admin", "mine", ""),
        ("vmgroup-creator", "", "team=own"),
    ]
    assert cora.refused("vmgroup", "access", "ls", "--name", "own") == (
        "admin:cora has no vmgroup-viewer grant on vmgroup own"
    )
    assert cora.ok("vmgroup", "vm", "rm", "--name", "mine", "--vm-list", "vm4") == "vmgroup vm rm succeeded"
    assert cora.ok("vmgroup", "rm", "--name", "mine") == "vmgroup rm succeeded"
    assert cora.js("vmgroup", "ls") == []
    assert [g["role"] for g in denv.js("admin", "grants", "--principal", "admin:cora")] == ["vmgroup-creator"]


async def test_refusals_never_tell_another_vmgroups_vms_or_volumes(denv: Denv) -> None:
    setup_own(denv)
    for name in ("vm1", "vm2"):
        denv.enroll(name, VM_UUIDS[name], denv.root / "bundles" / name)
    denv.ok("vmgroup", "vm", "add", "--name", "other", "--vm-list", "vm2")
    alice = denv.admin("alice")
    nobody = denv.admin("nobody")
    denv.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-admin", "--vmgroup", "own")
    assert denv.refused("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm2") == (
        "VM 'vm2' has already been associated with tenant 'other', can't add it"
    )
    assert alice.refused("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm2") == "Cannot find vm vm2"
    assert alice.refused("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm9") == "Cannot find vm vm9"
    assert alice.ok("vmgroup", "vm", "add", "--name", "own", "--vm-list", "vm1") == "vmgroup vm add succeeded"
    # a vmgroup that exists and one that does not: the same words
    for name in ("other", "nosuch"):
        assert alice.refused("vmgroup", "vm", "ls", "--name", name) == (
            f"admin:alice has no vmgroup-viewer grant on vmgroup {name}"
        )
    assert alice.refused("show", "permissions", "--vm", "vm2") == "Cannot find vm vm2"
    # an admin with no grant sees nothing, and is refused everything named
    for listing in (
        ("vmgroup", "ls"),
        ("volume", "ls"),
        ("datastore", "ls"),
        ("show", "permissions"),
        ("audit", "ls"),
        ("admin", "grants"),
    ):
        assert nobody.js(*listing) == [], listing
    assert nobody.refused("vmgroup", "create", "--name", "x", "--default-datastore", "local1") == (
        "admin:nobody has no vmgroup-creator grant"
    )


def test_the_broker_is_found_through_the_environment_or_the_cli_config_file(tmp_path: Path, denv: Denv) -> None:
    setup_own(denv)
    alice = denv.admin("alice")
    denv.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-viewer", "--vmgroup", "own")

    def vdvs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        environment = {**cli_env(), "HOME": str(tmp_path), **env}
        return subprocess.run(
            [VDVS, *args], capture_output=True, text=True, env=environment, timeout=CLI_TIMEOUT_S, check=False
        )

    by_env = vdvs({"VDVS_BROKER": denv.admin_address, "VDVS_BUNDLE": str(alice.bundle)}, "vmgroup", "ls", "--json")
    assert [g["name"] for g in json.loads(by_env.stdout)] == ["own"]
    config = tmp_path / ".config" / "vdvs" / "cli.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[admin]\nbroker = "{denv.admin_address}"\nbundle = "{alice.bundle}"\n')
    by_file = vdvs({}, "vmgroup", "ls", "--json")
    assert [g["name"] for g in json.loads(by_file.stdout)] == ["own"]
    # the socket flag wins over the file: root sees every vmgroup
    as_root = vdvs({}, "vmgroup", "ls", "--json", "--admin-socket", str(denv.admin_socket))
    assert [g["name"] for g in json.loads(as_root.stdout)] == ["_DEFAULT", "other", "own"]
