"""Local backend: each datastore is a directory, each disk a file, attach a loop device.

Layout mirrors vSphere's: ``<datastore>/dockvols/<vmgroup uuid>/<name>.vmdk`` with
a JSON ``<name>.vmfd`` sidecar, plus a ``dockvols/<vmgroup name>`` symlink as
vDVS kept. Disks appear atomically (written under a temporary name, then
hard-linked into place, which fails if the name is taken), so a crash leaves
either no disk or a whole one, never a half-made file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vdvs.broker import faults
from vdvs.broker.backends.base import (
    POWERED_ON,
    BackendError,
    DatastoreInfo,
    DatastoreSpace,
    DiskExistsError,
    DiskNotFoundError,
    DiskRef,
    DiskStat,
    GuestSettings,
    VmInfo,
)
from vdvs.broker.backends.local import extend, loop, snapshot
from vdvs.broker.backends.local.copy import copy_sparse, fsync_dir
from vdvs.broker.backends.local.moving import move_disk
from vdvs.broker.backends.local.space import SpaceReader
from vdvs.tenancy import sidecar
from vdvs.tenancy.names import DOCKVOLS
from vdvs.tenancy.snapshots import CopyKind

# Half-written files live in <datastore>/.vdvs-tmp/ (same filesystem, so publishing is a link or a
# rename), never next to the volumes: any file name is a valid volume name there.
TMP_DIR = ".vdvs-tmp"
_ZERO_CHUNK = 4 * 1024 * 1024


def write_atomic(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{secrets.token_hex(8)}.vmfd"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    faults.point("meta.before_replace")
    os.replace(tmp, path)
    fsync_dir(path.parent)


class LocalBackend:
    """Datastores are directories on this host; VMs are the enrolled guests of this host."""

    scope = "local"
    applies_policies = False  # a policy named at create is recorded with the volume (and shown), not applied

    def __init__(
        self,
        datastores: Mapping[str, str | Path],
        vm_datastore: str | None = None,
        vm_datastores: Mapping[str, str] | None = None,
        owner: str = "",
    ) -> None:
        if not datastores:
            raise BackendError("the local backend needs at least one datastore directory")
        self._roots = {name: Path(path).resolve() for name, path in datastores.items()}
        for name, root in self._roots.items():
            if not root.is_dir():
                raise BackendError(f"datastore {name}: directory {root} does not exist")
        self._vm_datastore = vm_datastore or next(iter(self._roots))
        if self._vm_datastore not in self._roots:
            raise BackendError(f"vm_datastore {self._vm_datastore} is not a configured datastore")
        self._vm_datastores = dict(vm_datastores or {})
        self._host = socket.gethostname()
        # each broker writes its half-made files in a folder of its own, so a broker restarting
        # next to others on shared datastores sweeps only its own (and long-abandoned ones)
        self._tmp_name = hashlib.sha256(owner.encode()).hexdigest()[:16] if owner else "default"
        self._space = SpaceReader()

    # ------------------------------------------------------------------ paths
    def _root(self, datastore: str) -> Path:
        try:
            return self._roots[datastore]
        except KeyError:
            raise BackendError(f"unknown datastore {datastore}") from None

    def _vmdk(self, disk: DiskRef) -> Path:
        return self._root(disk.datastore) / disk.vmdk

    def _sidecar(self, disk: DiskRef) -> Path:
        return self._root(disk.datastore) / disk.sidecar

    def _tmp_dir(self, datastore: str) -> Path:
        return self._root(datastore) / TMP_DIR / self._tmp_name

    def _tmp_file(self, datastore: str) -> Path:
        directory = self._tmp_dir(datastore)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{secrets.token_hex(8)}.vmdk"

    def _write_meta(self, disk: DiskRef, meta: dict[str, Any]) -> None:
        write_atomic(self._sidecar(disk), sidecar.encode(meta), self._tmp_dir(disk.datastore))

    def display_path(self, disk: DiskRef) -> str:
        return str(self._vmdk(disk))

    # ------------------------------------------------------------------ inventory
    def datastores(self) -> list[DatastoreInfo]:
        infos = []
        for name, root in self._roots.items():
            st = os.statvfs(root)
            infos.append(
                DatastoreInfo(name, root.as_uri(), st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize, "local")
            )
        return infos

    def datastore_space(self, datastore: str) -> DatastoreSpace:
        return self._space.space(datastore, self._root(datastore), self._tmp_dir(datastore))

    def find_vm(self, bios_uuid: str) -> VmInfo | None:
        """Every enrolled guest of the local backend runs on this host, powered on."""
        datastore = self._vm_datastores.get(bios_uuid, self._vm_datastore)
        return VmInfo(bios_uuid, "", POWERED_ON, datastore)

    # ------------------------------------------------------------------ disks
    def _folder(self, disk: DiskRef, vmgroup_name: str) -> Path:
        folder = self._root(disk.datastore) / disk.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"dockvols creation failed - {exc.strerror} on datastore {disk.datastore}") from exc
        if vmgroup_name and vmgroup_name != disk.vmgroup_id:
            self._link_name(folder.parent, disk.vmgroup_id, vmgroup_name)
        return folder

    @staticmethod
    def _link_name(base: Path, vmgroup_id: str, name: str) -> None:
        """``dockvols/<name> -> <uuid>`` as vDVS kept it; a link left pointing at another vmgroup is replaced."""
        link = base / name
        with contextlib.suppress(OSError):  # a convenience for people browsing the datastore
            if link.is_symlink():
                if os.readlink(link) == vmgroup_id:
                    return
                link.unlink()
            elif link.exists():
                return  # a real folder of that name: leave it alone
            link.symlink_to(vmgroup_id)

    def _write_meta_or_withdraw(self, final: Path, disk: DiskRef, meta: dict[str, Any]) -> None:
        """The sidecar follows the published disk; a disk whose sidecar cannot be written goes again."""
        try:
            self._write_meta(disk, meta)
        except OSError as exc:
            final.unlink(missing_ok=True)
            raise BackendError(f"Failed to create metadata kv store for {final}: {exc}") from exc

    def _publish(self, tmp: Path, final: Path) -> None:
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise DiskExistsError(f"File {final} already exists") from None
        except OSError as exc:
            raise BackendError(f"cannot create {final}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(final.parent)

    def create_disk(
        self,
        disk: DiskRef,
        size_mb: int,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat:
        folder = self._folder(disk, vmgroup_name)
        final = folder / f"{disk.name}.vmdk"
        if final.exists():
            raise DiskExistsError(f"File {final} already exists")
        tmp = self._tmp_file(disk.datastore)
        size = size_mb * 1024 * 1024
        try:
            with open(tmp, "xb") as fh:
                if diskformat == "thin":
                    fh.truncate(size)
                else:
                    os.posix_fallocate(fh.fileno(), 0, size)
                    if diskformat == "eagerzeroedthick":
                        zeros = bytes(_ZERO_CHUNK)
                        for offset in range(0, size, _ZERO_CHUNK):
                            fh.write(zeros[: min(_ZERO_CHUNK, size - offset)])
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackendError(f"cannot create {final}: {exc.strerror or exc}") from exc
        faults.point("create.before_publish")
        self._publish(tmp, final)
        faults.point("create.after_publish")
        self._write_meta_or_withdraw(final, disk, meta)
        faults.point("create.after_meta")
        return self.stat_disk(disk)

    def clone_disk(
        self,
        source: DiskRef,
        target: DiskRef,
        diskformat: str,
        meta: dict[str, Any],
        vmgroup_name: str,
        profile: str | None = None,
    ) -> DiskStat:
        src = self._vmdk(source)
        if not src.exists():
            raise DiskNotFoundError(f"{src} does not exist")
        folder = self._folder(target, vmgroup_name)
        final = folder / f"{target.name}.vmdk"
        if final.exists():
            raise DiskExistsError(f"File {final} already exists")
        tmp = self._tmp_file(target.datastore)
        try:
            copy_sparse(src, tmp, preallocate=diskformat != "thin")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackendError(f"cannot copy {src}: {exc.strerror or exc}") from exc
        faults.point("clone.after_copy")
        self._publish(tmp, final)
        faults.point("clone.after_publish")
        self._write_meta_or_withdraw(final, target, meta)
        return self.stat_disk(target)

    def remove_disk(self, disk: DiskRef) -> None:
        vmdk = self._vmdk(disk)
        if loop.devices_backed_by(str(vmdk)):
            raise BackendError(f"{vmdk} is still attached to a loop device")
        # sidecar first, as vDVS did: a disk without a sidecar is found and reported
        self._sidecar(disk).unlink(missing_ok=True)
        faults.point("remove.after_sidecar")
        vmdk.unlink(missing_ok=True)
        faults.point("remove.after_delete")
        fsync_dir(vmdk.parent) if vmdk.parent.exists() else None

    def disk_exists(self, disk: DiskRef) -> bool:
        return self._vmdk(disk).exists()

    def stat_disk(self, disk: DiskRef) -> DiskStat:
        try:
            st = self._vmdk(disk).stat()
        except FileNotFoundError:
            raise DiskNotFoundError(f"{self._vmdk(disk)} does not exist") from None
        return DiskStat(st.st_size, st.st_blocks * 512)

    def read_meta(self, disk: DiskRef) -> dict[str, Any] | None:
        try:
            data = self._sidecar(disk).read_bytes()
        except OSError:
            return None
        return sidecar.decode(data)

    def write_meta(self, disk: DiskRef, meta: dict[str, Any]) -> None:
        try:
            self._write_meta(disk, meta)
        except OSError as exc:
            raise BackendError(f"cannot write metadata of {self._vmdk(disk)}: {exc}") from exc

    # ------------------------------------------------------------------ attach
    def attach(self, vm_uuid: str, disk: DiskRef, attach_as: str) -> dict[str, Any]:
        vmdk = self._vmdk(disk)
        if not vmdk.exists():
            raise DiskNotFoundError(f"{vmdk} does not exist")
        faults.point("attach.before_losetup")
        device = loop.attach(str(vmdk))
        faults.point("attach.after_losetup")
        return {"kind": "loop", "path": device, "backing_file": str(vmdk.resolve())}

    def detach(self, vm_uuid: str, disk: DiskRef) -> None:
        loop.detach(str(self._vmdk(disk)))
        faults.point("detach.after_detach")

    def is_attached(self, vm_uuid: str, disk: DiskRef) -> bool:
        return bool(loop.devices_backed_by(str(self._vmdk(disk))))

    def list_disks(self) -> list[DiskRef]:
        """Sorted by datastore, folder and name: in pieces (each folder's names), which costs a
        fraction of one keyed sort over ten thousand disks (admin listings scan every time)."""
        disks: list[DiskRef] = []
        for name in sorted(self._roots):
            try:
                top = list(os.scandir(self._roots[name] / DOCKVOLS))
            except FileNotFoundError:
                continue
            # disks right under dockvols/ (pre-vmgroup vDVS volumes) belong to no vmgroup: orphans
            found = {"": [e.name[: -len(".vmdk")] for e in top if e.is_file() and e.name.endswith(".vmdk")]}
            for folder in top:
                if folder.is_dir(follow_symlinks=False):
                    with os.scandir(folder.path) as entries:
                        found[folder.name] = [e.name[: -len(".vmdk")] for e in entries if e.name.endswith(".vmdk")]
            for folder_name in sorted(found):
                disks.extend(DiskRef(name, folder_name, disk) for disk in sorted(found[folder_name]))
        return disks

    def stray_temporaries(self, abandoned_before: float = 0.0) -> list[Path]:
        """Half-written files a crash left behind (never a published disk): this broker's own, and
        other brokers' last touched before ``abandoned_before`` (epoch seconds)."""
        found: list[Path] = []
        for root in self._roots.values():
            base = root / TMP_DIR
            if not base.is_dir():
                continue
            for folder in base.iterdir():
                files = [folder] if folder.is_file() else list(folder.iterdir()) if folder.is_dir() else []
                # files no broker signed (right under .vdvs-tmp/, or "default") are anyone's to sweep
                own = folder.name in (self._tmp_name, "default") or folder.is_file()
                found.extend(p for p in files if p.is_file() and (own or p.stat().st_mtime < abandoned_before))
        return sorted(found)

    def vmgroup_renamed(self, vmgroup_id: str, old_name: str, new_name: str) -> None:
        for root in self._roots.values():
            base = root / DOCKVOLS
            old = base / old_name
            if old.is_symlink() and os.readlink(old) == vmgroup_id:
                old.unlink()
            if (base / vmgroup_id).is_dir():
                self._link_name(base, vmgroup_id, new_name)

    def vmgroup_removed(self, vmgroup_id: str, name: str) -> None:
        for root in self._roots.values():
            base = root / DOCKVOLS
            link = base / name
            if link.is_symlink() and os.readlink(link) == vmgroup_id:
                link.unlink()
            with contextlib.suppress(OSError):  # not empty (an orphan disk stays), or already gone
                (base / vmgroup_id).rmdir()

    def guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        """Loop devices are found by their backing file: a local guest needs no VM setting."""
        return GuestSettings("", POWERED_ON)

    def fix_guest_settings(self, bios_uuid: str) -> GuestSettings | None:
        return self.guest_settings(bios_uuid)

    def watch_power_off(self, callback: Callable[[str], None]) -> None:
        """Local guests run on this host and report no power events: nothing to watch."""
        return None

    def watch_vm_changes(self, callback: Callable[[str | None], None]) -> None:
        """Local guests have no folders or custom attributes, and their names are the enrolled ones."""
        return None

    def close(self) -> None:
        return None

    def extend_disk(self, disk: DiskRef, size_mb: int, holder: str | None) -> DiskStat:
        return extend.grow_file(self._vmdk(disk), size_mb * 1024 * 1024)

    # ------------------------------------------------------------------ move (vdvs volume move)
    def move_disk(
        self, source: DiskRef, target: DiskRef, diskformat: str, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """Linked or copied, published, its sidecar written; only then the source deleted (local/moving.py)."""
        return move_disk(self, source, target, diskformat, meta, vmgroup_name)

    # ------------------------------------------------------------------ snapshots (broker/snapshot_ops.py)
    def snapshot_kind(self, disk: DiskRef) -> CopyKind:
        """A reflink where the datastore's filesystem has them, else a sparse copy."""
        return snapshot.copy_kind(self._tmp_dir(disk.datastore))

    def snapshot_disk(
        self, source: DiskRef, target: DiskRef, kind: CopyKind, meta: dict[str, Any], vmgroup_name: str
    ) -> DiskStat:
        """The snapshot's disk, published whole (as a clone's) from a reflink or a sparse copy of the source."""
        src = self._vmdk(source)
        if not src.exists():
            raise DiskNotFoundError(f"{src} does not exist")
        final = self._folder(target, vmgroup_name) / f"{target.name}.vmdk"
        if final.exists():
            raise DiskExistsError(f"File {final} already exists")
        tmp = self._tmp_file(target.datastore)
        try:
            snapshot.reflink(src, tmp) if kind is CopyKind.REFLINK else copy_sparse(src, tmp, preallocate=False)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackendError(f"cannot copy {src} ({kind}): {exc.strerror or exc}") from exc
        faults.point("snapshot.after_copy")
        self._publish(tmp, final)
        faults.point("snapshot.after_publish")
        self._write_meta_or_withdraw(final, target, meta)
        return self.stat_disk(target)
