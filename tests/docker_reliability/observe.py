"""What the reliability tests look at, each from its own source of truth.

- Docker: the mount IDs it handed to the plugin, from each running container's
  ``config.v2.json`` (the engine keeps the ``ID`` of every volume mount point there);
- the plugin: its state file (``volumes -> ids``) and what is mounted under its mount root;
- the host: which loop device backs which disk file;
- the broker: the ``volumes`` rows of its SQLite config store (who holds each attachment).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from testkit.docker_env import DockerEngine, Result
from testkit.system import loop_backing_files, stop_process

T = TypeVar("T")
R = TypeVar("R")


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int = 8) -> list[R]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def ok(result: Result, what: str) -> Result:
    assert result.rc == 0, f"{what} failed (rc {result.rc}): {result.text}"
    return result


# ---------------------------------------------------------------------------------------- Docker
def restart_engine(d: DockerEngine, stop_timeout: float = 60.0) -> None:
    """Stop dockerd with SIGTERM (it stops its containers, then itself) and start it on the same data root."""
    assert d.proc is not None, "dockerd is not running"
    stopped = stop_process(d.proc, stop_timeout)
    d.proc = None
    assert stopped, f"dockerd did not stop within {stop_timeout:g}s of SIGTERM"
    d.start()  # same root: same --data-root and --exec-root, the image is rebuilt from cache


def running_ids(d: DockerEngine) -> list[str]:
    return ok(d.run("ps", "-q", "--no-trunc"), "docker ps").out.split()


def docker_holders(d: DockerEngine) -> dict[str, set[str]]:
    """volume name -> the mount IDs Docker holds on it (one per running container using it)."""
    holders: dict[str, set[str]] = {}
    for cid in running_ids(d):
        config = json.loads((d.root / "data" / "containers" / cid / "config.v2.json").read_text())
        for point in (config.get("MountPoints") or {}).values():
            if point.get("Driver") != "vsphere":
                continue
            assert point.get("ID"), f"container {cid[:12]} holds {point.get('Name')} without a mount ID"
            holders.setdefault(point["Name"], set()).add(point["ID"])
    return holders


def remove_all_containers(d: DockerEngine) -> None:
    ids = d.run("ps", "-aq").out.split()
    if ids:
        d.run("rm", "-f", *ids, timeout=120)


# ---------------------------------------------------------------------------------------- plugin
def state_holders(state_file: Path) -> dict[str, set[str]]:
    """canonical volume name -> the mount IDs the plugin's state file records."""
    if not state_file.exists():
        return {}
    data = json.loads(state_file.read_text())
    return {name: set(raw.get("ids", [])) for name, raw in data.get("volumes", {}).items()}


def mounted(mount_root: Path) -> dict[str, str]:
    """volume name -> source device, for every mount directly under the plugin's mount root."""
    found = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = fields[4].replace("\\040", " ")
        if os.path.dirname(point) == str(mount_root):
            found[os.path.basename(point)] = fields[fields.index("-") + 2]
    return found


# ---------------------------------------------------------------------------------------- host
def disk_loops(datastores: Path) -> dict[str, list[str]]:
    """short volume name -> loop devices backed by its disk file (under ``datastores``)."""
    prefix = str(datastores.resolve())
    found: dict[str, list[str]] = {}
    for dev, backing in loop_backing_files().items():
        if backing.startswith(prefix) and backing.endswith(".vmdk"):
            found.setdefault(Path(backing).stem, []).append(dev)
    return {name: sorted(devs) for name, devs in found.items()}


# ---------------------------------------------------------------------------------------- broker
def db_attachments(db: Path) -> dict[str, tuple[str, str]]:
    """short volume name -> (attached VM name, attach state), for every attached (or half-) row."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT name, attached_vm_name, attach_state FROM volumes WHERE attached_vm IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return {name: (vm or "", state or "") for name, vm, state in rows}


def short(name: str) -> str:
    return name.rpartition("@")[0] or name


# ---------------------------------------------------------------------------------------- checks
def check_consistent(
    mount_root: Path, state_file: Path, datastores: Path, db: Path | None = None, vm_name: str = ""
) -> dict[str, set[str]]:
    """No mounted-but-detached, no attached-but-unknown, no double attach. Returns the state holders.

    Call it when no Docker request is in flight. With ``db``, the broker's rows must agree too.
    """
    holders = state_holders(state_file)
    known = {short(n) for n in holders}
    mounts = mounted(mount_root)
    loops = disk_loops(datastores)
    rows = db_attachments(db) if db is not None else {}
    idle = {name for name, (_, state) in rows.items() if state == "idle"}
    problems = []
    for name, devs in loops.items():
        if len(devs) != 1:
            problems.append(f"{name} attached {len(devs)} times: {devs}")
        if name not in known and name not in idle:  # idle: kept attached on purpose, nothing mounted
            problems.append(f"{name} attached ({devs}) but unknown to the plugin's state file")
    for point, source in mounts.items():
        if not holders.get(point):
            problems.append(f"{point} mounted ({source}) with no holder in the state file")
        if source not in loops.get(short(point), []):
            problems.append(f"{point} mounted from {source}, which no longer backs its disk (detached)")
    for name in idle & {short(point) for point in mounts}:
        problems.append(f"{name} is mounted but the broker says it is idle")
    if db is not None:
        for name, (vm, state) in rows.items():
            if name not in loops:
                problems.append(f"the broker says {name} is {state} to {vm}, but no device backs it")
        for name in loops:
            if name not in rows:
                problems.append(f"{name} is attached on the host, but the broker's DB has no attachment")
            elif vm_name and rows[name] not in ((vm_name, "attached"), (vm_name, "idle")):
                problems.append(f"{name}: broker's DB shows {rows[name]}, expected it attached to {vm_name!r}")
    assert not problems, "inconsistent state:\n  " + "\n  ".join(problems)
    return holders


def check_clean(mount_root: Path, state_file: Path, datastores: Path, db: Path | None = None) -> None:
    """Nothing mounted, recorded or held any more; nothing attached but idle attachments (the broker
    keeps a volume attached to its last VM, idle, until someone else needs it)."""
    rows = db_attachments(db) if db is not None else {}
    idle = {name for name, (_, state) in rows.items() if state == "idle"}
    leftovers = {
        "mounts": mounted(mount_root),
        "loop devices": {n: d for n, d in disk_loops(datastores).items() if n not in idle},
        "state file": state_holders(state_file),
        "DB attachments": {n: a for n, a in rows.items() if n not in idle},
    }
    assert not any(leftovers.values()), f"left behind: {leftovers}"


def wait_clean(mount_root: Path, state_file: Path, datastores: Path, db: Path | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check_clean(mount_root, state_file, datastores, db)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
