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


def parse_size_mb(text: str) -> int:
    """Parse a volume size option into MB, refusing every malformed, zero or huge value."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise VdvsError(Err.INVALID_SIZE)
    mb = int(match.group(1)) * _UNITS_MB[match.group(2).lower()]
    if mb == 0:
        raise VdvsError(Err.OPT_VOLUME_SIZE_INVALID)
    if mb > MAX_DISK_MB:
        raise VdvsError(Err.VOLUME_SIZE_TOO_LARGE, text, "62TB")
    return mb


def parse_limit_mb(text: str) -> int:
    """Parse an admin limit (volume-maxsize / volume-totalsize) into MB.

    ``Unset``, ``0`` or an empty string clear the limit (0 = unlimited). Unlike
    vDVS, which silently ignored a malformed size, a bad value is an error.
    """
    stripped = text.strip()
    if stripped.lower() in ("", "unset", "0"):
        return 0
    match = _SIZE.fullmatch(stripped)
    if match is None:
        raise VdvsError(Err.INVALID_SIZE)
    mb = int(match.group(1)) * _UNITS_MB[match.group(2).lower()]
    if mb == 0:
        raise VdvsError(Err.OPT_VOLUME_SIZE_INVALID)
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
        return "Unset"
    nbytes = mb * 1024**2
    for unit, factor in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if nbytes >= factor:
            return f"{nbytes / factor:.2f}{unit}"
    return f"{nbytes}B"
