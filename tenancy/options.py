"""The one validator of ``docker volume create -o`` options, with vDVS's texts.

Only the seven vDVS keys exist; values are exact and case-sensitive (size units
aside). Defaults are filled in here, so every stored volume records the options
it really has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.sizes import DEFAULT_SIZE, DEFAULT_SIZE_MB, parse_size_mb

SIZE = "size"
VSAN_POLICY = "vsan-policy-name"
DISKFORMAT = "diskformat"
ATTACH_AS = "attach-as"
ACCESS = "access"
FSTYPE = "fstype"
CLONE_FROM = "clone-from"

# Key order and defaults exactly as vDVS listed them in its error text.
DEFAULTS: tuple[tuple[str, str], ...] = (
    (SIZE, DEFAULT_SIZE),
    (VSAN_POLICY, "[VSAN default]"),
    (DISKFORMAT, "thin"),
    (ATTACH_AS, "independent_persistent"),
    (ACCESS, "read-write"),
    (FSTYPE, "ext4"),
    (CLONE_FROM, "None"),
)
VALID_KEYS = tuple(key for key, _ in DEFAULTS)
DISKFORMATS = ("zeroedthick", "thin", "eagerzeroedthick")
ATTACH_AS_TYPES = ("independent_persistent", "persistent")
ACCESS_TYPES = ("read-write", "read-only")
DEFAULT_FSTYPE = "ext4"
# Options an admin may change after create (`vdvs volume set`).
EDITABLE_KEYS = (ACCESS, ATTACH_AS)


@dataclass(frozen=True)
class CreateOptions:
    """Validated create options, defaults filled in."""

    size_mb: int
    diskformat: str
    attach_as: str
    access: str
    fstype: str | None  # None for a clone: inherited from the source
    clone_from: str | None
    vsan_policy: str | None
    size_given: bool

    def recorded(self) -> dict[str, str]:
        """The ``volOpts`` map vDVS kept in the sidecar."""
        opts = {DISKFORMAT: self.diskformat, ATTACH_AS: self.attach_as, ACCESS: self.access}
        if self.size_given:
            opts[SIZE] = f"{self.size_mb}mb"
        if self.fstype is not None:
            opts[FSTYPE] = self.fstype
        if self.clone_from is not None:
            opts[CLONE_FROM] = self.clone_from
        if self.vsan_policy is not None:
            opts[VSAN_POLICY] = self.vsan_policy
        return opts


def validate_create_options(
    opts: Mapping[str, str] | None, host_filesystems: Sequence[str] | None = None
) -> CreateOptions:
    """Check every option in vDVS's order and return them with defaults.

    ``host_filesystems`` is what the Docker host can format (its ``mkfs.*``);
    when given, an fstype it cannot make is refused now rather than at mount.
    """
    opts = dict(opts or {})
    unknown = sorted(key for key in opts if key not in VALID_KEYS)
    if unknown:
        raise VdvsError(Err.INVALID_OPTIONS, unknown, list(DEFAULTS))
    clone_from = opts.get(CLONE_FROM)
    if clone_from is not None and SIZE in opts:
        raise VdvsError(Err.CLONE_WITH_SIZE)
    size_mb = parse_size_mb(opts[SIZE]) if SIZE in opts else DEFAULT_SIZE_MB
    diskformat = opts.get(DISKFORMAT, "thin")
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
    if clone_from == "":
        raise VdvsError(Err.CLONE_SOURCE_NOT_FOUND, clone_from)
    return CreateOptions(
        size_mb=size_mb,
        diskformat=diskformat,
        attach_as=attach_as,
        access=access,
        fstype=fstype,
        clone_from=clone_from,
        vsan_policy=opts.get(VSAN_POLICY),
        size_given=SIZE in opts,
    )


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
