"""One fixture, every backend: the local backend (temp directories, loop devices) and the vsphere
backend on vcsim in vCenter and in ESX mode. The contract tests run against each."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_sim import DATASTORE, Inspector, Sim, stop_sim
from vdvs.broker.backends.base import Backend, DiskRef


@dataclass
class Case:
    """A backend under test and what the contract needs to drive it."""

    kind: str  # "local", "vpx" or "esx"
    backend: Backend
    datastore: str
    vm_uuid: str  # a VM the backend knows (any uuid for local)
    hint_kind: str  # what attach returns: "loop" or "scsi"
    has_inventory: bool  # False: the backend vouches for every VM (local)
    can_attach: bool
    other_datastore: str = ""  # a second datastore (a volume move's target)

    def disk(self, name: str = "vol") -> DiskRef:
        """A disk in a vmgroup folder of its own, so tests never see each other's disks."""
        return DiskRef(self.datastore, str(uuid.uuid4()), name)


@pytest.fixture(scope="session")
def sim_vpx() -> Iterator[Sim]:
    sim = start_sim_or_skip("vpx")
    try:
        yield sim
    finally:
        stop_sim(sim)


@pytest.fixture(scope="session")
def sim_esx() -> Iterator[Sim]:
    sim = start_sim_or_skip("esx")
    try:
        yield sim
    finally:
        stop_sim(sim)


@pytest.fixture(params=["local", "vpx", "esx"])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    if request.param == "local":
        yield from _local_case()
    else:
        yield from _vsphere_case(request.getfixturevalue(f"sim_{request.param}"), request.param)


def _local_case() -> Iterator[Case]:
    from vdvs.broker.backends.local import LocalBackend

    with tempfile.TemporaryDirectory(prefix="vdvs-contract-") as tmp:
        root, other = Path(tmp) / "ds1", Path(tmp) / "ds2"
        root.mkdir()
        other.mkdir()
        backend = LocalBackend({"ds1": root, "ds2": other})
        try:
            yield Case("local", backend, "ds1", str(uuid.uuid4()), "loop", False, os.geteuid() == 0, "ds2")
        finally:
            for disk in backend.list_disks():  # loop devices a failed test left
                backend.detach("", disk)
            backend.close()


def _vsphere_case(sim: Sim, mode: str) -> Iterator[Case]:
    from vdvs.broker.backends.vsphere.backend import VsphereBackend

    inspector = Inspector(sim)
    inspector.reset()
    backend = VsphereBackend(sim.settings())
    try:
        backend.connect()
        yield Case(mode, backend, DATASTORE, sim.vms[0].uuid, "scsi", True, True, "LocalDS_0")
    finally:
        backend.close()
        inspector.reset()
        inspector.close()
