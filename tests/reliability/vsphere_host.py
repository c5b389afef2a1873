"""What a vSphere broker's host holds after a crash, read behind the broker's back (the crash
campaign's ``HostState`` for vcsim): volume rows and quota usage from its config store, the files
under every datastore's ``dockvols/`` (vcsim keeps a datastore as a plain folder), and the volume
disks in each simulator VM's device list (pyVmomi, the test's own session).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from testkit.broker_process import BrokerProcess
from testkit.vsphere_env import vsphere_config
from testkit.vsphere_sim import Inspector, Sim
from tests.reliability.harness import HostState, claims_without_device, dockvols_files, store_state
from vdvs.broker.backends.vsphere.datastore import split_ds_path
from vdvs.broker.setup import init_config
from vdvs.tenancy.names import DOCKVOLS


def vsphere_broker(root: Path, sim: Sim) -> BrokerProcess:
    """`vdvs broker --config` on ``sim`` in a process of its own (stopped; its config initialized)."""
    config = vsphere_config(root, sim)
    process = BrokerProcess(config, root, label="vsphere broker")
    init_config(config, process.config_path)
    return process


def vsphere_host_state(env: BrokerProcess, insp: Inspector) -> HostState:
    rows, usage = store_state(env.config.store_path)
    files: dict[str, int] = {}
    names: dict[str, str] = {}
    for datastore in insp.dc.datastore:
        summary = datastore.summary
        names[summary.url] = summary.name
        files.update(dockvols_files(summary.name, Path(summary.url)))
    holders: dict[str, list[str]] = defaultdict(list)
    for vm in insp.sim.vms:
        for disk in insp.disks(vm.uuid):
            name, relative = split_ds_path(disk.backing.fileName)
            holders[f"{name}:{relative.removeprefix(DOCKVOLS + '/')}"].append(vm.uuid)
    state = HostState(rows, files, [], dict(holders), usage, names, sizes_exact=False, holders_are_vms=True,
                      extents=("-flat.vmdk",))  # fmt: skip
    state.claims_without_device = claims_without_device(rows, state)
    return state
