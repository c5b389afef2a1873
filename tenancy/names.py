"""The one volume-name parser: ``name[@datastore]`` with vDVS's rules.

Split on the LAST ``@``; the volume part may be at most 100 characters, may not
contain ``/`` or ``\\``, may not end in ``-NNNNNN`` (six digits: clashes with
VMDK snapshot deltas); the datastore part may be at most 100 characters and is
matched case-insensitively against the known datastores. Checks run in vDVS's
order, so the first failing rule is the one reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError

DOCKVOLS = "dockvols"  # folder holding the volumes on every datastore
MAX_VOLUME_NAME_LEN = 100
MAX_DATASTORE_NAME_LEN = 100
ILLEGAL_CHARS = ("/", "\\")
_SNAPSHOT_SUFFIX = re.compile(r"^.*-[0-9]{6}$", re.DOTALL)
# A NUL byte can never be part of a file name; refuse it like a path separator.
_CONTROL = "\x00"


@dataclass(frozen=True)
class DiskRef:
    """Where a volume's disk lives: ``[datastore] dockvols/<vmgroup id>/<name>.vmdk`` (namespace isolation:
    each vmgroup has a folder of its own on every datastore)."""

    datastore: str
    vmgroup_id: str
    name: str

    @property
    def folder(self) -> str:
        return f"{DOCKVOLS}/{self.vmgroup_id}" if self.vmgroup_id else DOCKVOLS

    @property
    def vmdk(self) -> str:
        return f"{self.folder}/{self.name}.vmdk"

    @property
    def sidecar(self) -> str:
        return f"{self.folder}/{self.name}.vmfd"


@dataclass(frozen=True)
class VolumeName:
    """A volume's name: ``name`` and its datastore, ``None`` until resolved when the caller gave none.

    The one owner of a volume's identity: the canonical ``name@datastore`` Docker sees, the key its
    operations are serialized on, and where its disk lives (with the owning vmgroup).
    """

    name: str
    datastore: str | None = None

    def on(self, datastore: str) -> VolumeName:
        """The same name, resolved to ``datastore``."""
        return VolumeName(self.name, datastore)

    @property
    def full(self) -> str:
        """``name@datastore``, the canonical name (the name alone while unresolved)."""
        return f"{self.name}@{self.datastore}" if self.datastore is not None else self.name

    def lock_key(self, vmgroup_id: str) -> tuple[str, str, str]:
        """What operations on this volume are serialized on: two vmgroups may both own ``db@ds1``."""
        return (vmgroup_id, (self.datastore or "").lower(), self.name)

    def disk(self, vmgroup_id: str) -> DiskRef:
        return DiskRef(self.datastore or "", vmgroup_id, self.name)


def parse_volume_name(raw: str) -> VolumeName:
    """Parse ``vol[@ds]``; raise VdvsError naming the first broken rule."""
    if raw == "":
        raise VdvsError(Err.VOLUME_NAME_EMPTY)
    name, sep, datastore = raw.rpartition("@")
    if not sep:
        name, datastore = raw, ""
    if name == "":
        raise VdvsError(Err.VOLUME_NAME_EMPTY)
    if _SNAPSHOT_SUFFIX.match(name):
        raise VdvsError(Err.VOLUME_NAME_SNAPSHOT_SUFFIX)
    if len(name) > MAX_VOLUME_NAME_LEN:
        raise VdvsError(Err.VOLUME_NAME_TOO_LONG, MAX_VOLUME_NAME_LEN)
    for char in (*ILLEGAL_CHARS, _CONTROL):
        if char in name:
            raise VdvsError(Err.VOLUME_NAME_ILLEGAL_CHARS, "NUL" if char == _CONTROL else char)
    if name in (".", ".."):
        raise VdvsError(Err.VOLUME_NAME_ILLEGAL_CHARS, name)
    if not sep:
        return VolumeName(name, None)
    if len(datastore) > MAX_DATASTORE_NAME_LEN:
        raise VdvsError(Err.DATASTORE_NAME_TOO_LONG, MAX_DATASTORE_NAME_LEN)
    return VolumeName(name, datastore)


def match_datastore(requested: str, known: Iterable[str]) -> str | None:
    """Return the canonical spelling of ``requested`` among ``known`` (case-insensitive).

    None when nothing matches; VdvsError when several names differ only in case.
    """
    matches = [ds for ds in known if ds.lower() == requested.lower()]
    if requested in matches:
        return requested
    if len(matches) > 1:
        raise VdvsError(Err.DATASTORE_AMBIGUOUS, sorted(matches))
    return matches[0] if matches else None
