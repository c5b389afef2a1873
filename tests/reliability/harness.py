"""A broker subprocess that can be told to die (or stall) at a fault point, and what the host holds.

``CrashEnv`` is the tenancy harness's broker process (``vdvs config init`` + ``vdvs broker
--config``) started with ``VDVS_FAULT_POINT`` / ``VDVS_FAULT_SLEEP`` in its environment only.
``host_state`` reads everything a half-done operation could leave: config-store rows, files
under ``dockvols/`` and the temp folders, loop devices; ``problems`` says what is inconsistent.
Both are shared with the vSphere campaign (``vsphere_crash.py``), whose ``HostState`` comes from
vcsim's datastore folder and the VMs' device lists instead.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from testkit.broker_process import BrokerProcess
from testkit.system import loop_backing_files
from tests.tenancy.harness import Tenv
from vdvs.broker.backends.local.backend import TMP_DIR
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.snapshots import charged_mb
from vdvs.tenancy.store import SqliteStore

MIB = 1024 * 1024


def killed_by_fault(process: BrokerProcess) -> bool:
    """Whether the broker died of SIGKILL (its fault point); waits a little for it to be reaped, and
    for the children it left (a ``losetup`` still running) to finish, so the host read next is the
    one its successor finds."""
    if process.proc is None:
        return False
    try:
        killed = process.proc.wait(timeout=2.0) == -signal.SIGKILL
    except subprocess.TimeoutExpired:
        return False
    if killed:
        wait_group_gone(process.proc.pid)
    return killed


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def wait_group_gone(pgid: int, timeout_s: float = 30.0) -> None:
    """Until no live process of the broker's group (its own session) remains; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while members := group_members(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left by the killed broker still run after {timeout_s:g}s: {members}")
        time.sleep(0.02)


class CrashEnv(Tenv):
    """A broker process that may be started with fault variables (``start(env=...)``)."""

    def killed(self) -> bool:
        return killed_by_fault(self)


@dataclass
class HostState:
    """What one backend holds, in one form for every backend: disks and sidecars by
    ``"<datastore>:<vmgroup dir>/<file>"``, and who has each disk attached."""

    rows: list[VolumeRecord]
    files: dict[str, int]  # "<datastore>:<vmgroup dir>/<file>" -> size in bytes
    temporaries: list[str]
    holders: dict[str, list[str]]  # "<datastore>:<vmgroup dir>/<name>.vmdk" -> loop devices, or VM uuids
    usage: dict[tuple[str, str], int]  # (vmgroup id, datastore url) -> MB the quota counts
    names: dict[str, str]  # datastore url -> name
    # claims (in use or idle) whose disk is attached nowhere: a crash between a claim and the backend
    # attach, or between a backend detach and its commit; startup forgets them
    claims_without_device: list[str] = field(default_factory=list)
    sizes_exact: bool = True  # each disk file is its full size (local); vcsim's descriptors are not
    holders_are_vms: bool = False  # a holder is the VM itself (vSphere), so it must be the one recorded
    extents: tuple[str, ...] = ()  # files beside a disk that belong to it ("-flat.vmdk": a vSphere flat extent)

    def unsettled(self) -> list[VolumeRecord]:
        """Rows a crash left mid-operation (what startup reconciliation must settle)."""
        mid = (AttachState.ATTACHING, AttachState.DETACHING)
        return [r for r in self.rows if r.state is not VolumeState.READY or r.attach_state in mid]

    def expected_repairs(self) -> int:
        # a move's 'arriving' reservation is settled with its 'moving' row: one repair for the two
        moves = [r for r in self.unsettled() if r.state is not VolumeState.ARRIVING]
        return len(moves) + len(self.temporaries) + len(self.claims_without_device)

    def by_name(self) -> dict[str, VolumeRecord]:
        return {r.name: r for r in self.rows}

    def disk_key(self, record: VolumeRecord) -> str:
        return f"{self.names.get(record.datastore_url, '?')}:{record.vmgroup_id}/{record.name}.vmdk"


def store_state(store_path: Path) -> tuple[list[VolumeRecord], dict[tuple[str, str], int]]:
    """Every volume row, and the quota usage of each (vmgroup, datastore) that has one."""
    store = SqliteStore(store_path)
    try:
        rows = store.list_volumes(states=tuple(VolumeState))
        usage = {(r.vmgroup_id, r.datastore_url): 0 for r in rows}
        for group, url in usage:
            usage[(group, url)] = store.usage_mb(group, url)
    finally:
        store.close()
    return rows, usage


def dockvols_files(name: str, root: Path) -> dict[str, int]:
    """``"<name>:<vmgroup dir>/<file>"`` -> size of every file under ``root/dockvols`` (links not followed)."""
    base = root / "dockvols"
    if not base.exists():  # rglob does not follow the vmgroup-name symlinks
        return {}
    return {f"{name}:{p.relative_to(base)}": p.stat().st_size for p in base.rglob("*") if p.is_file()}


def claims_without_device(rows: list[VolumeRecord], state: HostState) -> list[str]:
    held = (AttachState.ATTACHED, AttachState.IDLE)
    return [r.name for r in rows if r.attach_state in held and not state.holders.get(state.disk_key(r))]


def host_state(env: Tenv) -> HostState:
    rows, usage = store_state(env.config.store_path)
    files: dict[str, int] = {}
    temporaries: list[str] = []
    roots = {name: env.datastore_dir(name) for name in env.config.local_datastores}
    for name, root in roots.items():
        files.update(dockvols_files(name, root))
        tmp = root / TMP_DIR
        if tmp.exists():
            temporaries += [str(p) for p in tmp.rglob("*") if p.is_file()]
    prefix = str(env.root.resolve())
    holders: dict[str, list[str]] = defaultdict(list)
    for dev, backing in loop_backing_files().items():
        if not backing.startswith(prefix):
            continue
        folders = {n: f"{r}/dockvols/" for n, r in roots.items()}
        key = next((f"{n}:{backing.removeprefix(f)}" for n, f in folders.items() if backing.startswith(f)), backing)
        holders[key].append(dev)
    names = {ds.resolve().as_uri(): name for name, ds in env.config.local_datastores.items()}
    state = HostState(rows, files, sorted(temporaries), dict(holders), usage, names)
    state.claims_without_device = claims_without_device(rows, state)
    return state


def problems(state: HostState, quota_mb: int = 0) -> list[str]:
    """Everything inconsistent between rows, disks, sidecars, attachments and quota usage."""
    found: list[str] = []
    expected_files: set[str] = set()
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    attached: dict[str, VolumeRecord] = {}
    for r in state.unsettled():
        found.append(f"row left mid-operation: {r.name} state={r.state.value} attach={r.attach_state}")
    for r in state.rows:
        vmdk = state.disk_key(r)
        vmfd = vmdk.removesuffix(".vmdk") + ".vmfd"
        expected_files |= {vmdk, vmfd} | {vmdk.removesuffix(".vmdk") + extent for extent in state.extents}
        sizes[(r.vmgroup_id, r.datastore_url)] += r.size_mb if r.parent_id is None else charged_mb(r.allocated_bytes)
        if vmdk not in state.files:
            found.append(f"volume {r.name} has a row but no disk")
        elif state.sizes_exact and state.files[vmdk] != r.size_mb * MIB:
            found.append(f"disk of {r.name} is {state.files[vmdk]} bytes, row says {r.size_mb} MB")
        if vmfd not in state.files:
            found.append(f"volume {r.name} has no sidecar")
        if (r.attached_vm is None) != (r.attach_state is None):
            found.append(f"half attachment on {r.name}: vm={r.attached_vm} state={r.attach_state}")
        if r.attached_vm is not None:
            attached[vmdk] = r
    found += [f"stray file (no row): {f}" for f in sorted(set(state.files) - expected_files)]
    found += [f"stray temporary file: {t}" for t in state.temporaries]
    for key, r in sorted(attached.items()):
        holders = state.holders.get(key, [])
        if len(holders) != 1:
            found.append(f"{r.name} is recorded attached but has {len(holders)} device(s): {holders}")
        elif state.holders_are_vms and holders != [r.attached_vm]:
            found.append(f"{r.name} is recorded attached to VM {r.attached_vm} but VM {holders[0]} has it")
    found += [
        f"{key} is attached ({', '.join(who)}) with no attachment recorded"
        for key, who in sorted(state.holders.items())
        if who and key not in attached
    ]
    for key, used in state.usage.items():
        if used != sizes[key]:
            found.append(f"quota usage {used} MB != {sizes[key]} MB of volumes held ({key})")
        if quota_mb and used > quota_mb:
            found.append(f"quota overshoot: {used} MB used, quota {quota_mb} MB ({key})")
    return found
