"""What the end-to-end Docker tests share: docker calls that must succeed, inspect, bounded waits."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from testkit.docker_env import IMAGE, DockerEngine, Result, VdvsUp
from testkit.system import loop_backing_files, mounts_under
from vdvs.tenancy.model import AttachState
from vdvs.tenancy.store import SqliteStore

T = TypeVar("T")
DRIVER = "vsphere"
DISK_SUFFIXES = (".vmdk", ".vmfd")


def unique_volume(prefix: str, datastore: str = "local1") -> str:
    """A fresh volume name, e.g. ``reg-v3fa09c@local1``.

    The random tag starts with a letter: a bare hex tag is all digits about 6% of the time,
    and vDVS refuses names ending in ``-NNNNNN`` (its own rule, kept by vdvs).
    """
    return f"{prefix}-v{uuid.uuid4().hex[:6]}@{datastore}"


def ok(result: Result, what: str = "") -> Result:
    """Assert a docker command succeeded, showing its output if not."""
    assert result.rc == 0, f"{what or 'docker'} failed (rc {result.rc}): {result.text}"
    return result


def create(d: DockerEngine, name: str, *opts: str) -> Result:
    args = ["volume", "create", "-d", DRIVER]
    for opt in opts:
        args += ["-o", opt]
    return d.run(*args, name)


def inspect(d: DockerEngine, name: str) -> dict[str, Any]:
    result = ok(d.run("volume", "inspect", name), f"docker volume inspect {name}")
    data = json.loads(result.out)
    assert isinstance(data, list) and len(data) == 1, result.out
    volume = data[0]
    assert isinstance(volume, dict)
    return volume


def status_of(d: DockerEngine, name: str) -> dict[str, Any]:
    status = inspect(d, name).get("Status") or {}
    assert isinstance(status, dict)
    return status


def volume_names(d: DockerEngine, driver: str | None = DRIVER) -> list[str]:
    """Names `docker volume ls` shows (for one driver, or all with driver=None)."""
    out = ok(d.run("volume", "ls", "--format", "{{.Driver}}\t{{.Name}}"), "docker volume ls").out
    names = []
    for line in out.splitlines():
        drv, _, name = line.partition("\t")
        if driver is None or drv == driver:
            names.append(name)
    return names


def run_in(d: DockerEngine, volume: str, script: str, *extra: str) -> Result:
    """`docker run --rm -v VOLUME:/data IMAGE sh -c SCRIPT`."""
    return d.run("run", "--rm", *extra, "-v", f"{volume}:/data", IMAGE, "sh", "-c", script)


def start_holder(d: DockerEngine, volume: str, seconds: int = 30, target: str = "/data") -> str:
    """A detached container holding ``volume`` mounted; returns its id."""
    result = ok(d.run("run", "-d", "-v", f"{volume}:{target}", IMAGE, "sleep", str(seconds)), "docker run -d")
    return result.out.strip()


def exec_in(d: DockerEngine, container: str, script: str) -> Result:
    return d.run("exec", container, "sh", "-c", script)


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.2, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def datastore_dir(up: VdvsUp, datastore: str = "local1") -> Path:
    return up.state / "datastores" / datastore


def disk_files(up: VdvsUp, datastore: str = "local1") -> list[str]:
    """Every disk or sidecar file on a datastore (any vmgroup folder)."""
    root = datastore_dir(up, datastore)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix in DISK_SUFFIXES)


def idle_disks(up: VdvsUp) -> set[str]:
    """The disk files of the volumes the config store says are attached idle (kept after their last
    unmount, as the broker does by default)."""
    store = SqliteStore(up.state / "vdvs.db")
    try:
        rows = [r for r in store.list_volumes() if r.attach_state is AttachState.IDLE]
    finally:
        store.close()
    roots = {p.resolve().as_uri(): p.resolve() for p in (up.state / "datastores").iterdir()}
    return {str(roots[r.datastore_url] / "dockvols" / r.vmgroup_id / f"{r.name}.vmdk") for r in rows}


def host_is_clean(up: VdvsUp) -> None:
    """Nothing mounted under the mount root, and no loop device but those of idle attachments (a
    volume whose last container stopped stays attached to this VM until someone else needs it)."""
    assert mounts_under(up.mount_root) == [], f"mounts left: {mounts_under(up.mount_root)}"
    idle = idle_disks(up)
    stray = {d: b for d, b in loop_backing_files().items() if b.startswith(str(up.state.resolve())) and b not in idle}
    assert stray == {}, f"loop devices left that no idle attachment explains: {stray}"


def wait_released(d: DockerEngine, up: VdvsUp, name: str, timeout: float = 30.0) -> None:
    """The volume's last container is gone: unmounted, and kept attached idle (or detached)."""

    def settled() -> bool:
        return status_of(d, name).get("status") in ("idle", "detached") and mounts_under(up.mount_root) == []

    wait_for(settled, timeout, what=f"{name} to be unmounted and released")
    host_is_clean(up)
