"""A volume's options: the one validator of ``docker volume create -o`` and the one owner of defaults.

Only the seven vDVS keys exist; values are exact and case-sensitive (size units
aside). ``VolumeOptions`` is what a volume records (vDVS's ``volOpts``) with
every default filled in here, so the status map, the admin listing, the
backends and the reply to the plugin read them instead of restating them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.filesystems import check_volume_size
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.sizes import DEFAULT_SIZE, DEFAULT_SIZE_MB, parse_size_mb

SIZE = "size"
VSAN_POLICY = "vsan-policy-name"
DISKFORMAT = "diskformat"
ATTACH_AS = "attach-as"
ACCESS = "access"
FSTYPE = "fstype"
CLONE_FROM = "clone-from"

DISKFORMATS = ("zeroedthick", "thin", "eagerzeroedthick")
ATTACH_AS_TYPES = ("independent_persistent", "persistent")
ACCESS_TYPES = ("read-write", "read-only")
DEFAULT_DISKFORMAT = "thin"
DEFAULT_ATTACH_AS = ATTACH_AS_TYPES[0]
DEFAULT_ACCESS = ACCESS_TYPES[0]
DEFAULT_FSTYPE = "ext4"
DEFAULT_POLICY = "[VSAN default]"
NO_CLONE = "None"  # vDVS showed clone-from as this string when there was none

# Key order and defaults exactly as vDVS listed them in its error text.
DEFAULTS: tuple[tuple[str, str], ...] = (
    (SIZE, DEFAULT_SIZE),
    (VSAN_POLICY, DEFAULT_POLICY),
    (DISKFORMAT, DEFAULT_DISKFORMAT),
    (ATTACH_AS, DEFAULT_ATTACH_AS),
    (ACCESS, DEFAULT_ACCESS),
    (FSTYPE, DEFAULT_FSTYPE),
    (CLONE_FROM, NO_CLONE),
)
VALID_KEYS = tuple(key for key, _ in DEFAULTS)
# Snapshots (issue 14): `-o snapshot-of=db` makes a snapshot of db; `-o clone-from=db -o from-snapshot=S`
# a writable clone of db's snapshot S. Not vDVS's: kept out of DEFAULTS, whose list vDVS's error text shows.
SNAPSHOT_OF = "snapshot-of"
FROM_SNAPSHOT = "from-snapshot"
SNAPSHOT_KEYS = (SNAPSHOT_OF, FROM_SNAPSHOT)
# Options an admin may change after create (`vdvs volume set`).
EDITABLE_KEYS = (ACCESS, ATTACH_AS)


@dataclass(frozen=True)
class VolumeOptions:
    """The options a volume has, defaults filled in; ``recorded()`` is the ``volOpts`` map kept for it."""

    diskformat: str = DEFAULT_DISKFORMAT
    attach_as: str = DEFAULT_ATTACH_AS
    access: str = DEFAULT_ACCESS
    fstype: str | None = None  # None: none recorded (volumes older than vdvs's fstype option)
    clone_from: str | None = None  # the source's short name
    vsan_policy: str | None = None
    size: str | None = None  # the size the user gave, as text (not recorded when defaulted)
    snapshot_of: str | None = None  # a snapshot: the short name of the volume it was taken of

    @property
    def read_only(self) -> bool:
        return self.access == "read-only"

    @property
    def fstype_to_make(self) -> str:
        """The filesystem a blank disk gets at first mount (ext4 when none is recorded, as vDVS did)."""
        return self.fstype or DEFAULT_FSTYPE

    @property
    def shown_policy(self) -> str:
        return self.vsan_policy or DEFAULT_POLICY

    @property
    def shown_clone_from(self) -> str:
        return self.clone_from or NO_CLONE

    def recorded(self) -> dict[str, str]:
        opts = {DISKFORMAT: self.diskformat, ATTACH_AS: self.attach_as, ACCESS: self.access}
        for key, value in ((SIZE, self.size), (FSTYPE, self.fstype), (CLONE_FROM, self.clone_from)):
            if value is not None:
                opts[key] = value
        if self.vsan_policy is not None:
            opts[VSAN_POLICY] = self.vsan_policy
        if self.snapshot_of is not None:
            opts[SNAPSHOT_OF] = self.snapshot_of
        return opts

    def to_json(self) -> str:
        return json.dumps(self.recorded(), sort_keys=True)

    @classmethod
    def from_recorded(cls, opts: Mapping[str, str]) -> VolumeOptions:
        """Read a recorded ``volOpts`` map (no validation: it was validated when recorded)."""
        return cls(
            diskformat=opts.get(DISKFORMAT, DEFAULT_DISKFORMAT),
            attach_as=opts.get(ATTACH_AS, DEFAULT_ATTACH_AS),
            access=opts.get(ACCESS, DEFAULT_ACCESS),
            fstype=opts.get(FSTYPE),
            clone_from=opts.get(CLONE_FROM),
            vsan_policy=opts.get(VSAN_POLICY),
            size=opts.get(SIZE),
            snapshot_of=opts.get(SNAPSHOT_OF),
        )

    def edited(self, changes: Mapping[str, str]) -> VolumeOptions:
        """With `volume set` changes applied (checked by ``validate_editable_options``)."""
        return replace(self, access=changes.get(ACCESS, self.access), attach_as=changes.get(ATTACH_AS, self.attach_as))


@functools.lru_cache(maxsize=1024)
def options_from_json(text: str) -> VolumeOptions:
    """The options of a stored JSON text; few distinct texts repeat across thousands of volumes."""
    return VolumeOptions.from_recorded(json.loads(text))


@dataclass(frozen=True)
class CreateOptions:
    """Validated create options: the size in MB, the options to record, and the clone source if any."""

    size_mb: int
    options: VolumeOptions
    clone_source: VolumeName | None = None
    snapshot_of: VolumeName | None = None  # `-o snapshot-of`: the volume to take a snapshot of
    from_snapshot: str | None = None  # `-o from-snapshot`: the snapshot of clone_source to clone


def validate_create_options(
    opts: Mapping[str, str] | None, host_filesystems: Sequence[str] | None = None
) -> CreateOptions:
    """Check every option in vDVS's order and return them with defaults.

    ``host_filesystems`` is what the Docker host can format (its ``mkfs.*``);
    when given, an fstype it cannot make is refused now rather than at mount.
    A size the filesystem cannot be made in is refused too (``filesystems.BOUNDS``).
    """
    opts = dict(opts or {})
    unknown = sorted(key for key in opts if key not in VALID_KEYS and key not in SNAPSHOT_KEYS)
    if unknown:
        raise VdvsError(Err.INVALID_OPTIONS, unknown, list(DEFAULTS))
    if SNAPSHOT_OF in opts:
        return snapshot_create_options(opts)
    clone_from = opts.get(CLONE_FROM)
    if clone_from is not None and SIZE in opts:
        raise VdvsError(Err.CLONE_WITH_SIZE)
    size_mb = parse_size_mb(opts[SIZE]) if SIZE in opts else DEFAULT_SIZE_MB
    diskformat = opts.get(DISKFORMAT, DEFAULT_DISKFORMAT)
    if diskformat not in DISKFORMATS:
        raise VdvsError(Err.INVALID_DISKFORMAT, diskformat, list(DISKFORMATS))
    attach_as = _choice(opts, ATTACH_AS, ATTACH_AS_TYPES, Err.INVALID_ATTACH_AS)
    access = _choice(opts, ACCESS, ACCESS_TYPES, Err.INVALID_ACCESS)
    if clone_from is not None and FSTYPE in opts:
        raise VdvsError(Err.CLONE_WITH_FSTYPE)
    fstype: str | None = None
    if clone_from is None:
        fstype = opts.get(FSTYPE, DEFAULT_FSTYPE)
        if host_filesystems is not None and fstype not in host_filesystems:
            raise VdvsError(Err.FSTYPE_NOT_FOUND, fstype, ", ".join(sorted(host_filesystems)))
        check_volume_size(fstype, size_mb)  # a clone has its source's filesystem and size: they passed
    source: VolumeName | None = None
    if clone_from is not None:
        if clone_from == "":
            raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, clone_from)
        source = parse_volume_name(clone_from)
    options = VolumeOptions(
        diskformat=diskformat,
        attach_as=attach_as,
        access=access,
        fstype=fstype,
        clone_from=source.name if source else None,
        vsan_policy=opts.get(VSAN_POLICY),
        size=opts.get(SIZE),
    )
    return CreateOptions(size_mb, options, source, from_snapshot=_from_snapshot(opts))


def validate_editable_options(opts: Mapping[str, str]) -> dict[str, str]:
    """Check `volume set --options`: only access and attach-as, with their valid values."""
    unknown = sorted(key for key in opts if key not in EDITABLE_KEYS)
    if unknown:
        raise VdvsError(Err.INVALID_EDIT_OPTIONS, unknown, list(EDITABLE_KEYS))
    checked = {}
    if ACCESS in opts:
        checked[ACCESS] = _choice(opts, ACCESS, ACCESS_TYPES, Err.INVALID_ACCESS)
    if ATTACH_AS in opts:
        checked[ATTACH_AS] = _choice(opts, ATTACH_AS, ATTACH_AS_TYPES, Err.INVALID_ATTACH_AS)
    return checked


def _choice(opts: Mapping[str, str], key: str, allowed: tuple[str, ...], err: Err) -> str:
    value = opts.get(key, allowed[0])
    if value not in allowed:
        raise VdvsError(err, value, list(allowed))
    return value


def snapshot_create_options(opts: Mapping[str, str]) -> CreateOptions:
    """`-o snapshot-of=db`, alone: a snapshot has its volume's size, filesystem and format, and is read-only
    (its options are made from the volume's, ``tenancy.snapshots.snapshot_options``)."""
    others = sorted(key for key in opts if key != SNAPSHOT_OF)
    if others:
        raise VdvsError(Err.SNAPSHOT_WITH_OPTIONS, others)
    if not opts[SNAPSHOT_OF]:
        raise VdvsError(Err.SNAPSHOT_PARENT_NOT_FOUND, "''")
    return CreateOptions(0, VolumeOptions(access=ACCESS_TYPES[1]), snapshot_of=parse_volume_name(opts[SNAPSHOT_OF]))


def _from_snapshot(opts: Mapping[str, str]) -> str | None:
    """`-o from-snapshot=S`: the name of a snapshot of the clone-from volume (a short name: it lives next to it)."""
    wanted = opts.get(FROM_SNAPSHOT)
    if wanted is None:
        return None
    if CLONE_FROM not in opts:
        raise VdvsError(Err.FROM_SNAPSHOT_WITHOUT_CLONE)
    if not wanted or "@" in wanted:
        raise VdvsError(Err.SNAPSHOT_NAME_INVALID, wanted)
    return parse_volume_name(wanted).name
