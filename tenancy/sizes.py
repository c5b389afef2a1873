"""The one size parser and the size formats vDVS showed.

Sizes are whole numbers of MB, GB or TB (any case, no spaces, no decimals):
``100mb``, ``10GB``, ``2Tb``. Internally every size is an integer number of MiB,
as vDVS's ``convert_to_MB`` used (1 GB = 1024 MB).
"""

from __future__ import annotations

import re

from vdvs.tenancy.errors import Err, VdvsError

_UNITS_MB = {"mb": 1, "gb": 1024, "tb": 1024 * 1024}
# At most 20 digits: more is never a real size, and int() of thousands of digits is refused by Python.
_SIZE = re.compile(r"([0-9]{1,20})(mb|gb|tb)", re.IGNORECASE)
DEFAULT_SIZE = "100mb"
DEFAULT_SIZE_MB = 100
# vSphere's largest virtual disk: 62 TB.
MAX_DISK_MB = 62 * 1024 * 1024
UNSET = "Unset"  # an admin limit that is not set (stored as 0)


def size_text(mb: int) -> str:
    """A whole number of MB as the largest exact unit a user would type: 62TB, 300MB, 2GB."""
    for unit in ("TB", "GB"):
        factor = _UNITS_MB[unit.lower()]
        if mb and mb % factor == 0:
            return f"{mb // factor}{unit}"
    return f"{mb}MB"


def space_text(nbytes: int) -> str:
    """A measured amount of space as a person reads it, to one decimal: 63.9MB, 77.7GB, 16TB."""
    for unit, factor in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if nbytes >= factor:
            return f"{nbytes / factor:.1f}".removesuffix(".0") + unit
    return f"{nbytes}B"


def parse_size_mb(text: str, *, limit: bool = False) -> int:
    """The one size parser: ``100mb``, ``10GB``, ``2Tb`` into MB, refusing malformed and zero values.

    A volume size (the default) may not pass the largest virtual disk. An admin limit
    (``limit=True``: volume-maxsize, volume-totalsize) has no such cap, and ``Unset``, ``0`` or an
    empty text clear it (0 = unlimited); unlike vDVS, which silently ignored a malformed limit, a
    bad one is an error.
    """
    if limit:
        text = text.strip()
        if text.lower() in ("", UNSET.lower(), "0"):
            return 0
    match = _SIZE.fullmatch(text)
    if match is None:
        raise VdvsError(Err.INVALID_SIZE)
    mb = int(match.group(1)) * _UNITS_MB[match.group(2).lower()]
    if mb == 0:
        raise VdvsError(Err.OPT_VOLUME_SIZE_INVALID)
    if not limit and mb > MAX_DISK_MB:
        raise VdvsError(Err.VOLUME_SIZE_TOO_LARGE, text, size_text(MAX_DISK_MB))
    return mb


def format_kv_size(nbytes: int) -> str:
    """vDVS inspect format (kvESX.convert): truncating integer units, no TB."""
    if nbytes < 1024:
        return str(nbytes)
    if nbytes < 1024**2:
        return f"{nbytes // 1024}KB"
    if nbytes < 1024**3:
        return f"{nbytes // 1024**2}MB"
    return f"{nbytes // 1024**3}GB"


def format_admin_size(mb: int) -> str:
    """vDVS admin-table format: ``Unset`` for 0, else two decimals in the largest unit >= 1."""
    if mb == 0:
        return UNSET
    nbytes = mb * 1024**2
    for unit, factor in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if nbytes >= factor:
            return f"{nbytes / factor:.2f}{unit}"
    return f"{nbytes}B"


def format_usage_mb(mb: int) -> str:
    """An amount in use (not a limit) in the admin-table format: ``0.00MB`` for none, never ``Unset``."""
    return format_admin_size(mb) if mb else "0.00MB"


def format_used_bytes(nbytes: int) -> str:
    """Space in use, in bytes, in the admin-table format, rounded up to whole MB (`volume ls` Used)."""
    return format_usage_mb(-(-nbytes // (1024 * 1024)))
