"""A broker subprocess that can be told to die (or stall) at a fault point, and what the host holds.

``CrashEnv`` is the tenancy harness's broker process (``vdvs config init`` + ``vdvs broker
--config``) started with ``VDVS_FAULT_POINT`` / ``VDVS_FAULT_SLEEP`` in its environment only.
``host_state`` reads everything a half-done operation could leave: config-store rows, files
under ``dockvols/`` and the temp folders, loop devices; ``problems`` says what is inconsistent.
"""

from __future__ import annotations

import signal
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from testkit.system import loop_backing_files
from tests.tenancy.harness import Tenv
from vdvs.broker.backends.local.backend import TMP_DIR
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.store import SqliteStore

MIB = 1024 * 1024


class CrashEnv(Tenv):
    """A broker process that may be started with fault variables (``start(env=...)``)."""

    def killed(self) -> bool:
        """Whether the broker died of SIGKILL (its fault point); waits a little for it to be reaped."""
        if self.proc is None:
            return False
        try:
            return self.proc.wait(timeout=2.0) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            return False


@dataclass
class HostState:
    rows: list[VolumeRecord]
    files: dict[str, int]  # "<datastore>:<vmgroup dir>/<file>" -> size in bytes
    temporaries: list[str]
    loops: dict[str, str]  # loop device -> backing file
    usage: dict[tuple[str, str], int]  # (vmgroup id, datastore url) -> MB the quota counts
    # claims (in use or idle) whose disk has no loop device: a crash between a claim and the backend
    # attach, or between a backend detach and its commit; startup forgets them
    claims_without_device: list[str] = field(default_factory=list)

    def unsettled(self) -> list[VolumeRecord]:
        """Rows a crash left mid-operation (what startup reconciliation must settle)."""
        mid = (AttachState.ATTACHING, AttachState.DETACHING)
        return [r for r in self.rows if r.state is not VolumeState.READY or r.attach_state in mid]

    def expected_repairs(self) -> int:
        return len(self.unsettled()) + len(self.temporaries) + len(self.claims_without_device)

    def by_name(self) -> dict[str, VolumeRecord]:
        return {r.name: r for r in self.rows}


def host_state(env: Tenv) -> HostState:
    store = SqliteStore(env.config.store_path)
    try:
        rows = store.list_volumes(states=tuple(VolumeState))
        usage = {(r.vmgroup_id, r.datastore_url): 0 for r in rows}
        for group, url in usage:
            usage[(group, url)] = store.usage_mb(group, url)
    finally:
        store.close()
    files: dict[str, int] = {}
    temporaries: list[str] = []
    for name in env.config.local_datastores:
        root = env.datastore_dir(name)
        base = root / "dockvols"
        if base.exists():  # rglob does not follow the vmgroup-name symlinks
            files.update({f"{name}:{p.relative_to(base)}": p.stat().st_size for p in base.rglob("*") if p.is_file()})
        tmp = root / TMP_DIR
        if tmp.exists():
            temporaries += [str(p) for p in tmp.rglob("*") if p.is_file()]
    prefix = str(env.root.resolve())
    loops = {dev: backing for dev, backing in loop_backing_files().items() if backing.startswith(prefix)}
    names = {ds.resolve().as_uri(): name for name, ds in env.config.local_datastores.items()}
    held = (AttachState.ATTACHED, AttachState.IDLE)
    claims = [
        r.name
        for r in rows
        if r.attach_state in held
        and str(
            env.datastore_dir(names.get(r.datastore_url, "?")).resolve() / "dockvols" / r.vmgroup_id / f"{r.name}.vmdk"
        )
        not in loops.values()
    ]
    return HostState(rows, files, sorted(temporaries), loops, usage, claims)


def problems(env: Tenv, state: HostState, quota_mb: int = 0) -> list[str]:
    """Everything inconsistent between rows, disks, sidecars, loop devices and quota usage."""
    found: list[str] = []
    names = {ds.resolve().as_uri(): name for name, ds in env.config.local_datastores.items()}
    expected_files: set[str] = set()
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    attached: dict[str, str] = {}
    for r in state.unsettled():
        found.append(f"row left mid-operation: {r.name} state={r.state.value} attach={r.attach_state}")
    for r in state.rows:
        ds = names.get(r.datastore_url, "?")
        vmdk, vmfd = f"{ds}:{r.vmgroup_id}/{r.name}.vmdk", f"{ds}:{r.vmgroup_id}/{r.name}.vmfd"
        expected_files |= {vmdk, vmfd}
        sizes[(r.vmgroup_id, r.datastore_url)] += r.size_mb
        if vmdk not in state.files:
            found.append(f"volume {r.name} has a row but no disk")
        elif state.files[vmdk] != r.size_mb * MIB:
            found.append(f"disk of {r.name} is {state.files[vmdk]} bytes, row says {r.size_mb} MB")
        if vmfd not in state.files:
            found.append(f"volume {r.name} has no sidecar")
        if (r.attached_vm is None) != (r.attach_state is None):
            found.append(f"half attachment on {r.name}: vm={r.attached_vm} state={r.attach_state}")
        if r.attached_vm is not None:
            attached[str(env.datastore_dir(ds) / "dockvols" / r.vmgroup_id / f"{r.name}.vmdk")] = r.name
    found += [f"stray file (no row): {f}" for f in sorted(set(state.files) - expected_files)]
    found += [f"stray temporary file: {t}" for t in state.temporaries]
    backing = sorted(state.loops.values())
    for path, name in sorted(attached.items()):
        if backing.count(path) != 1:
            found.append(f"{name} is recorded attached but has {backing.count(path)} loop device(s)")
    found += [
        f"loop device {d} on {b} with no attachment recorded" for d, b in state.loops.items() if b not in attached
    ]
    for key, used in state.usage.items():
        if used != sizes[key]:
            found.append(f"quota usage {used} MB != {sizes[key]} MB of volumes held ({key})")
        if quota_mb and used > quota_mb:
            found.append(f"quota overshoot: {used} MB used, quota {quota_mb} MB ({key})")
    return found
