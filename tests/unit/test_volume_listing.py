"""A kept `volume ls` (broker/admin_volumes.VolumeListing): the reply is built once per set of
orphans found, and rebuilt the moment the datastore scan finds another set."""

from __future__ import annotations

from vdvs.broker.admin_volumes import VolumeListing
from vdvs.broker.backends.base import DiskRef
from vdvs.tenancy.volume_admin import COLUMNS, Listing

OWNED = DiskRef("local1", "g1", "db")


def listing() -> Listing:
    cells = ["db", "local1", "web", "100.00MB", "0.00MB", "ext4", "N/A", "thin", "detached"]
    cells += ["read-write", "independent_persistent", "vm1", "Sun Nov 29 12:00:00 2026"]
    assert len(cells) == len(COLUMNS)
    return Listing([[cell] for cell in cells], {"local1\0g1\0db"})


def names(reply: object) -> list[str]:
    column = reply.columns[0]  # type: ignore[attr-defined]
    return list(column.values) if not column.index else [column.values[i] for i in column.index]


def test_the_same_disks_give_the_same_reply_object() -> None:
    kept = VolumeListing(listing(), frozenset())
    first = kept.reply([OWNED])
    assert kept.reply([OWNED]) is first and names(first) == ["db"]


def test_an_orphan_found_by_the_next_scan_is_in_the_next_reply() -> None:
    kept = VolumeListing(listing(), frozenset())
    assert names(kept.reply([OWNED])) == ["db"]
    assert names(kept.reply([OWNED, DiskRef("local1", "gone", "lost")])) == ["db", "lost"]
    assert names(kept.reply([OWNED])) == ["db"]


def test_a_disk_being_settled_is_no_orphan() -> None:
    kept = VolumeListing(listing(), frozenset({"local1\0g1\0new"}))
    assert names(kept.reply([OWNED, DiskRef("local1", "g1", "new")])) == ["db"]


def test_a_listing_without_orphans_ignores_the_disks() -> None:
    kept = VolumeListing(listing(), None)
    assert names(kept.reply([OWNED, DiskRef("local1", "gone", "lost")])) == ["db"]
