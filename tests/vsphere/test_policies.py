"""Storage policies on vSphere (vcsim, both modes): a policy goes into the disk spec as a storage
profile (DefinedProfileSpec, raw data for com.vmware.vim.sps) on vSAN datastores, at create and at
clone; a non-vSAN datastore refuses one with vDVS's text; an access row's default goes to vSAN only.

vcsim has no vSAN: it is started with ``-vsan-datastore LocalDS_0`` (tools/build-vcsim.sh), which
makes that datastore report summary.type "vsan". What is asserted is the SOAP request as it went on
the wire: every request body pyVmomi serialized is recorded (a hook on its SoapStubAdapter) and read
back as XML.
"""

from __future__ import annotations

import asyncio
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import SoapAdapter

from testkit.broker_process import VDVS, cli_env
from testkit.fixtures import start_sim_or_skip
from testkit.system import Result
from testkit.vsphere_env import VsEnv, start_vsphere_env
from testkit.vsphere_sim import DATASTORE, Inspector, Sim, stop_sim
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_of

VSAN = "LocalDS_0"  # the datastore vcsim reports as vSAN (-vsan-datastore)
PROFILE, SPS = "VirtualMachineDefinedProfileSpec", "com.vmware.vim.sps"  # as named on the wire (WSDL)
GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'
SILVER = '(("stripeWidth" i2))'
CLI_TIMEOUT_S = 60.0
VIM = "{urn:vim25}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.fixture(scope="module", params=["vpx", "esx"])
def vsan_sim(request: pytest.FixtureRequest) -> Iterator[Sim]:
    try:
        started = start_sim_or_skip(request.param, ("-vsan-datastore", VSAN))
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}: this vcsim has no -vsan-datastore; rebuild it (tools/build-vcsim.sh)") from None
    try:
        yield started
    finally:
        stop_sim(started)


@pytest.fixture
async def vs(short_tmp: Path, vsan_sim: Sim) -> AsyncIterator[VsEnv]:
    insp = Inspector(vsan_sim)
    insp.reset()
    env = await start_vsphere_env(short_tmp, vsan_sim, insp)
    try:
        yield env
    finally:
        await env.close()
        insp.reset()
        insp.close()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ET.Element]]:
    """(method, request body as XML) of every SOAP request pyVmomi sends, in order."""
    sent: list[tuple[str, ET.Element]] = []
    original = SoapAdapter.SoapStubAdapter.SerializeRequest

    def recording(self: Any, mo: Any, info: Any, args: Any) -> Any:
        body = original(self, mo, info, args)
        text = body.decode() if isinstance(body, bytes) else body
        sent.append((info.wsdlName, ET.fromstring(text)))
        return body

    monkeypatch.setattr(SoapAdapter.SoapStubAdapter, "SerializeRequest", recording)
    return sent


def requests(sent: list[tuple[str, ET.Element]], method: str, key: str = "name") -> dict[str, ET.Element]:
    """The last ``method`` request for each disk (by its ``key`` element): the first create of a vmgroup's
    volume on a datastore is sent twice (its folder is made after the first says it is missing)."""
    found = {}
    for name, body in sent:
        request = body.find(f".//{VIM}{method}")
        if name == method and request is not None:
            found[request.findtext(f"{VIM}{key}", "")] = request
    return found


def profiles(element: ET.Element, spec_tag: str = "") -> list[tuple[str, str, str]]:
    """(xsi:type, extensionKey, objectData) of each profile in the ``spec_tag`` child of ``element`` (or in
    ``element`` itself)."""
    spec = element.find(f"{VIM}{spec_tag}") if spec_tag else element
    assert spec is not None, ET.tostring(element)
    found = []
    for profile in spec.findall(f"{VIM}profile"):
        data = profile.find(f"{VIM}profileData")
        assert data is not None
        found.append(
            (
                profile.get(XSI_TYPE, ""),
                data.findtext(f"{VIM}extensionKey", ""),
                data.findtext(f"{VIM}objectData", ""),
            )
        )
    return found


async def vdvs(vs: VsEnv, *args: str) -> Result:
    """The real CLI against this broker's admin socket (the broker serves on this event loop)."""
    argv = [VDVS, *args, "--admin-socket", str(vs.env.admin_socket)]
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def ok(vs: VsEnv, *args: str) -> str:
    res = await vdvs(vs, *args)
    assert res.rc == 0, res
    return res.out.rstrip("\n")


async def policy_cells(vs: VsEnv) -> dict[str, str]:
    listing = await ok(vs, "volume", "ls", "-c", "volume,datastore,policy")
    rows = [line.split() for line in listing.splitlines()[2:]]
    return {f"{r[0]}@{r[1]}": " ".join(r[2:]) for r in rows}


async def test_the_simulated_vsan_datastore_reports_its_kind(vs: VsEnv) -> None:
    kinds = {d.name: d.kind for d in await asyncio.to_thread(vs.backend.datastores)}
    assert kinds[VSAN] == "vsan" and kinds[DATASTORE] != "vsan", kinds


async def test_a_policy_is_sent_as_a_storage_profile_on_vsan_and_refused_elsewhere(
    vs: VsEnv, wire: list[tuple[str, ET.Element]]
) -> None:
    await ok(vs, "policy", "create", "--name", "gold", "--content", GOLD)
    _, client = await vs.vm_client(0)
    created = await bounded(client.create(f"fast@{VSAN}", {"vsan-policy-name": "gold", "size": "50mb"}, FILESYSTEMS))
    assert status_of(created)["vsan-policy-name"] == "gold"
    await bounded(client.create(f"plain@{VSAN}", {"size": "50mb"}, FILESYSTEMS))
    sent = requests(wire, "CreateVirtualDisk_Task")
    assert sorted(sent) == [vs.vmdk("fast", VSAN), vs.vmdk("plain", VSAN)]
    fast, plain = sent[vs.vmdk("fast", VSAN)], sent[vs.vmdk("plain", VSAN)]
    assert profiles(fast, "spec") == [(PROFILE, SPS, GOLD)]
    assert profiles(plain, "spec") == []  # none named: vSAN's default, nothing sent
    err = await refused(client.create(f"slow@{DATASTORE}", {"vsan-policy-name": "gold"}, FILESYSTEMS))
    assert err.message == "Cannot use a VSAN policy on a non-VSAN datastore"
    assert sorted(requests(wire, "CreateVirtualDisk_Task")) == sorted(sent)  # refused before any disk was asked for
    assert await policy_cells(vs) == {f"fast@{VSAN}": "gold", f"plain@{VSAN}": "[VSAN default]"}
    assert (await ok(vs, "policy", "ls", "--json")).count(f"fast@{VSAN} (_DEFAULT)") == 1


async def test_an_access_rows_default_goes_to_vsan_disks_only(vs: VsEnv, wire: list[tuple[str, ET.Element]]) -> None:
    await ok(vs, "policy", "create", "--name", "silver", "--content", SILVER)
    for row in ("_VM_DS", "_ALL_DS"):  # the VMs live on the vSAN datastore: its create is decided by _VM_DS
        await ok(vs, "vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", row, "--storage-policy", "silver")
    _, client = await vs.vm_client(0)
    on_vsan = await bounded(client.create(f"a@{VSAN}", {"size": "20mb"}, FILESYSTEMS))
    elsewhere = await bounded(client.create(f"b@{DATASTORE}", {"size": "20mb"}, FILESYSTEMS))
    sent = requests(wire, "CreateVirtualDisk_Task")
    first, second = sent[vs.vmdk("a", VSAN)], sent[vs.vmdk("b", DATASTORE)]
    assert profiles(first, "spec") == [(PROFILE, SPS, SILVER)]
    assert profiles(second, "spec") == []
    assert status_of(on_vsan)["vsan-policy-name"] == "silver"
    assert "vsan-policy-name" not in status_of(elsewhere)
    assert await policy_cells(vs) == {f"a@{VSAN}": "silver", f"b@{DATASTORE}": "N/A"}
    # a policy update: nothing re-applied behind the user's back on a backend version that cannot
    out = await ok(vs, "policy", "update", "--name", "silver", "--content", GOLD)
    assert out.splitlines()[0] == "Successfully updated policy silver"


async def test_a_clone_carries_its_policy_in_the_copy_spec_or_is_refused(
    vs: VsEnv, wire: list[tuple[str, ET.Element]]
) -> None:
    await ok(vs, "policy", "create", "--name", "gold", "--content", GOLD)
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"src@{VSAN}", {"size": "20mb"}, FILESYSTEMS))
    options = {"clone-from": f"src@{VSAN}", "vsan-policy-name": "gold"}
    if vs.sim.mode == "esx":
        cloned = await bounded(client.create(f"copy@{VSAN}", options, FILESYSTEMS))
        assert status_of(cloned)["vsan-policy-name"] == "gold"
        (copy,) = requests(wire, "CopyVirtualDisk_Task", "destName").values()
        assert copy.findtext(f"{VIM}destName") == vs.vmdk("copy", VSAN)
        assert profiles(copy, "destSpec") == [(PROFILE, SPS, GOLD)]
        return
    # vCenter (vcsim) takes no disk spec for copies: the clone is refused, not made without its policy
    err = await refused(client.create(f"copy@{VSAN}", options, FILESYSTEMS))
    assert err.message == (
        f"Failed to clone volume: cannot clone {vs.vmdk('src', VSAN)} into {vs.vmdk('copy', VSAN)}: "
        "the server takes no disk spec for copies, so not the storage policy"
    )
    (copy,) = requests(wire, "CopyVirtualDisk_Task", "destName").values()
    assert profiles(copy, "destSpec") == [(PROFILE, SPS, GOLD)]
    assert sorted(await policy_cells(vs)) == [f"src@{VSAN}"]


async def test_an_update_reapplies_the_policy_to_attached_vsan_disks_through_their_vm(
    vs: VsEnv, wire: list[tuple[str, ET.Element]]
) -> None:
    await ok(vs, "policy", "create", "--name", "gold", "--content", GOLD)
    vm, client = await vs.vm_client(0)
    for name in ("held", "idle"):
        await bounded(client.create(f"{name}@{VSAN}", {"vsan-policy-name": "gold", "size": "20mb"}, FILESYSTEMS))
    await bounded(client.attach(f"held@{VSAN}"))
    before = len(wire)
    out = await ok(vs, "policy", "update", "--name", "gold", "--content", SILVER)
    assert out.splitlines() == [
        "Successfully updated policy gold",
        f"Re-applied to 1 volumes: held@{VSAN}",
        "Not re-applied to 1 volumes attached to no VM (vSphere changes a disk's policy through the VM holding "
        f"it; update the policy again while they are attached): idle@{VSAN}",
    ]
    edits = [body.find(f".//{VIM}ReconfigVM_Task") for name, body in wire[before:] if name == "ReconfigVM_Task"]
    (edit,) = [e for e in edits if e is not None]
    assert edit.findtext(f"{VIM}_this") == vm.moid
    (change,) = edit.findall(f"{VIM}spec/{VIM}deviceChange")
    assert change.findtext(f"{VIM}operation") == "edit"
    assert change.findtext(f"{VIM}device/{VIM}backing/{VIM}fileName") == vs.vmdk("held", VSAN)
    assert profiles(change) == [(PROFILE, SPS, SILVER)]
    assert vs.attached_paths(vm) == [vs.vmdk("held", VSAN)]  # still attached, the same disk
    await bounded(client.detach(f"held@{VSAN}"))
