"""Datastores shared into vmgroups, with ceilings (NSX shared infrastructure, ViPR tenant-restricted pools).

A platform admin shares a datastore (or ``_VM_DS``, each VM's own) into one vmgroup or into every
vmgroup a selector picks, with two optional ceilings: the largest volume-maxsize and the largest
volume-totalsize a vmgroup admin may give its vmgroup there. A vmgroup admin may add or set access
only on a datastore shared into its vmgroup, and only within them; the platform admin's own access
commands are not bound by shares. When several shares cover one vmgroup, a share naming the
vmgroup wins over selector shares, and among selector shares the most generous one applies.
Unsharing stops further delegated changes; access rows already given stay until an admin removes
them (they may hold volumes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vdvs.tenancy.datastores import datastore_name, datastore_url
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import Labels, matches, parse_selector
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP, DatastoreRef, Privilege, ShareRecord, VmGroup
from vdvs.tenancy.sizes import format_admin_size, parse_size_mb
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import require_vmgroup


@dataclass(frozen=True)
class ShareSpec:
    datastore_url: str
    vmgroup: VmGroup | None
    selector: str

    @property
    def shown_scope(self) -> str:
        return f"vmgroup {self.vmgroup.name}" if self.vmgroup else f"selector {self.selector}"


def _spec(
    store: ConfigStore, datastores: Sequence[DatastoreRef], datastore: str, vmgroup: str, selector: str
) -> ShareSpec:
    if bool(vmgroup) == bool(selector):
        raise VdvsError(Err.INVALID_ARGUMENT, "give --vmgroup NAME or --selector k=v (one of them)")
    url = datastore_url(datastore, datastores)
    if url == ALL_DS_URL:
        raise VdvsError(Err.SHARE_ALL_DS)
    if vmgroup == DEFAULT_VMGROUP:
        raise VdvsError(Err.DEFAULT_NOT_DELEGATED, "shares")
    group = require_vmgroup(store, vmgroup) if vmgroup else None
    return ShareSpec(url, group, parse_selector(selector) if selector else "")


def share_datastore(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    datastore: str,
    vmgroup: str = "",
    selector: str = "",
    max_volume_size: str = "",
    max_total: str = "",
) -> ShareRecord:
    """`datastore share`: share (or change the ceilings of a share)."""
    spec = _spec(store, datastores, datastore, vmgroup, selector)
    biggest, total = parse_size_mb(max_volume_size, limit=True), parse_size_mb(max_total, limit=True)
    if biggest and total and biggest > total:
        raise VdvsError(Err.PRIVILEGE_INVALID_VOLUME_SIZE, biggest, total)
    vmgroup_id = spec.vmgroup.id if spec.vmgroup else ""
    return store.put_share(ShareRecord(0, spec.datastore_url, vmgroup_id, spec.selector, biggest, total))


def unshare_datastore(
    store: ConfigStore, datastores: Sequence[DatastoreRef], datastore: str, vmgroup: str = "", selector: str = ""
) -> None:
    spec = _spec(store, datastores, datastore, vmgroup, selector)
    if not store.remove_share(spec.datastore_url, spec.vmgroup.id if spec.vmgroup else "", spec.selector):
        raise VdvsError(Err.SHARE_NOT_FOUND, datastore, spec.shown_scope)


def _generosity(share: ShareRecord) -> tuple[float, float]:
    unlimited = float("inf")
    return (share.max_total_mb or unlimited, share.max_volume_size_mb or unlimited)


def covering_share(shares: Iterable[ShareRecord], vmgroup_id: str, labels: Labels) -> ShareRecord | None:
    """The share that applies to a vmgroup (of ``labels``) among one datastore's ``shares``."""
    candidates = list(shares)
    named = [s for s in candidates if s.vmgroup_id and s.vmgroup_id == vmgroup_id]
    if named:
        return named[0]
    picked = [s for s in candidates if s.selector and matches(s.selector, labels)]
    return max(picked, key=_generosity) if picked else None


def covers(share: ShareRecord, vmgroup_id: str, labels: Labels) -> bool:
    return share.vmgroup_id == vmgroup_id if share.vmgroup_id else matches(share.selector, labels)


def share_for(store: ConfigStore, vmgroup: VmGroup, url: str, labels: Labels | None = None) -> ShareRecord | None:
    """The share of datastore ``url`` that applies to ``vmgroup`` (its stored labels unless given)."""
    group_labels = store.labels_of(vmgroup.id) if labels is None else labels
    return covering_share(store.shares(url), vmgroup.id, group_labels)


def within_ceilings(
    store: ConfigStore, datastores: Sequence[DatastoreRef], vmgroup: VmGroup, privilege: Privilege
) -> None:
    """Refuse access a vmgroup admin may not give: on a datastore not shared into the vmgroup, or over
    a ceiling (an unset limit is over any ceiling)."""
    shown = datastore_name(privilege.datastore_url, datastores) or privilege.datastore_url
    share = share_for(store, vmgroup, privilege.datastore_url)
    if share is None:
        raise VdvsError(Err.NOT_SHARED, shown, vmgroup.name)
    checks = (
        ("Volume max size", privilege.max_volume_size_mb, "max-volume-size", share.max_volume_size_mb),
        ("Total size", privilege.usage_quota_mb, "max-total", share.max_total_mb),
    )
    for what, asked, ceiling_name, ceiling in checks:
        if ceiling and (asked == 0 or asked > ceiling):
            raise VdvsError(
                Err.OVER_CEILING,
                what,
                format_admin_size(asked),
                ceiling_name,
                format_admin_size(ceiling),
                shown,
                vmgroup.name,
            )


def default_privilege(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    vmgroup: VmGroup,
    url: str,
    labels: Labels | None = None,
) -> Privilege:
    """The default-datastore row a vmgroup admin's create or update gives: full rights at the share's
    ceilings (NOT_SHARED when the datastore is not shared into the vmgroup)."""
    share = share_for(store, vmgroup, url, labels)
    if share is None:
        raise VdvsError(Err.NOT_SHARED, datastore_name(url, datastores) or url, vmgroup.name)
    return Privilege(vmgroup.id, url, True, share.max_volume_size_mb, share.max_total_mb)
