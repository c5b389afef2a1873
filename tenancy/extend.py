"""Online extend: the rules both paths (a VM through its plugin, an admin) apply before a disk grows.

One owner for each rule: sizes are parsed by ``tenancy.sizes``; the growth is checked against the
privilege row's max volume size here, and against its usage quota where it is reserved (in the
store's one transaction, ``store_extend.begin_extend``), as a create reserves its size. A volume
only grows: the same size or a smaller one is refused, and so is a read-only volume (its users
may not write, so nothing may change its size under them either).
"""

from __future__ import annotations

from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege, VolumeRecord
from vdvs.tenancy.options import ACCESS_TYPES
from vdvs.tenancy.sizes import parse_size_mb, size_text


@dataclass(frozen=True)
class ExtendPlan:
    """What an accepted extend does: the volume grows from ``from_mb`` to ``to_mb``."""

    volume: str  # name@datastore, for the texts
    from_mb: int
    to_mb: int

    @property
    def growth_mb(self) -> int:
        return self.to_mb - self.from_mb


def plan_extend(
    volume: str,
    record: VolumeRecord,
    raw_size: str,
    privilege: Privilege | None,
    where: tuple[str, str],
    *,
    need_create: bool,
) -> ExtendPlan:
    """Check an extend of ``record`` to ``raw_size``; ``where`` is (vmgroup name, datastore name).

    ``need_create``: a VM's extend needs the create privilege (it provisions space, as a create
    does); an admin's is allowed by its role, and meets the same size limits.
    """
    if not raw_size.strip():
        raise VdvsError(Err.EXTEND_SIZE_MISSING, volume)
    to_mb = parse_size_mb(raw_size.strip())
    if record.is_snapshot:
        raise VdvsError(Err.EXTEND_SNAPSHOT, volume)
    if record.options.access == ACCESS_TYPES[1]:  # read-only
        raise VdvsError(Err.EXTEND_READ_ONLY, volume)
    if to_mb <= record.size_mb:
        raise VdvsError(Err.EXTEND_NOT_LARGER, volume, size_text(to_mb), size_text(record.size_mb))
    if need_create and (privilege is None or not privilege.allow_create):
        raise VdvsError(Err.EXTEND_NO_PRIVILEGE, volume, *where)
    limit = privilege.max_volume_size_mb if privilege is not None else 0
    if limit and to_mb > limit:
        raise VdvsError(Err.EXTEND_MAX_SIZE, volume, size_text(to_mb), *where, size_text(limit))
    return ExtendPlan(volume, record.size_mb, to_mb)


def quota_refusal(plan: ExtendPlan, used_mb: int, quota_mb: int, where: tuple[str, str]) -> VdvsError | None:
    """The refusal of ``plan`` when the vmgroup holds ``used_mb`` (this volume's old size included)
    on the datastore under a usage quota of ``quota_mb`` (0: none); None when it fits."""
    after = used_mb + plan.growth_mb
    if quota_mb == 0 or after <= quota_mb:
        return None
    return VdvsError(Err.EXTEND_QUOTA, plan.volume, size_text(plan.to_mb), where[0], size_text(after), where[1],
                     size_text(quota_mb))  # fmt: skip


def disk_mb(size_bytes: int) -> int:
    """A disk's size in whole MB, as a row records it (a partial MB left by a crash does not count)."""
    return size_bytes // (1024 * 1024)
