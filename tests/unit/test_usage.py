"""The usage report's shaping rules (tenancy/usage.py), from aggregate rows as the store's GROUP BY
returns them: per vmgroup and datastore, totals, name patterns, label roll-ups, and the table cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from vdvs.tenancy.model import ALL_DS_URL, VM_DS_URL, DatastoreRef
from vdvs.tenancy.usage import (
    NO_LABEL,
    TOTAL,
    Figures,
    Line,
    VolumeLine,
    cells,
    headers,
    report,
    sample_day,
    volume_lines,
)

DS1 = DatastoreRef("ds1", "ds:///vmfs/volumes/ds1/")
DS2 = DatastoreRef("ds2", "ds:///vmfs/volumes/ds2/")
DATASTORES = [DS1, DS2]
MB = 1024 * 1024


def row(
    group: str,
    url: str | None,
    *,
    volumes: int = 0,
    provisioned: int = 0,
    reserved: tuple[int, int] = (0, 0),
    allocated: int = 0,
    attached: int = 0,
    idle: int = 0,
    limits_from: str | None = None,
    quota: int = 0,
    count: int | None = None,
    max_volumes: int | None = None,
    label: str | None = None,
) -> tuple[object, ...]:
    """A row of ``UsageRows.usage_rows``, in its column order."""
    return (f"id-{group}", group, max_volumes, url, volumes, provisioned, reserved[0], reserved[1], allocated,
            attached, idle, limits_from, quota, count, label)  # fmt: skip


ROWS = [
    row("db", DS1.url, volumes=2, provisioned=300, allocated=5 * MB, attached=1, limits_from=ALL_DS_URL, label="cc1"),
    row("empty", None, max_volumes=0),
    row("web", DS1.url, volumes=3, provisioned=600, reserved=(1, 100), allocated=MB + 1, attached=2, idle=1,
        limits_from=DS1.url, quota=1024, count=10, max_volumes=20, label="cc1"),
    row("web", DS2.url, volumes=1, provisioned=50, limits_from=VM_DS_URL, count=0, max_volumes=20, label="cc1"),
    row("zgone", "ds:///vmfs/volumes/gone/", volumes=1, provisioned=10),
]  # fmt: skip


def test_each_vmgroup_gets_its_datastores_and_a_total() -> None:
    units = report(ROWS, DATASTORES)
    assert [u.name for u in units] == ["db", "empty", "web", "zgone"]
    web = units[2]
    assert web.vmgroups == ("web",)
    assert web.lines == (
        Line("ds1", "ds1", Figures(3, 10, 600, 1024, 1, 100, MB + 1, 2, 1)),
        Line("ds2", "_VM_DS", Figures(1, 0, 50, None, 0, 0, 0, 0, 0)),
    )
    # amounts summed; the count limit of the total is the vmgroup's own, and no size limit spans datastores
    assert web.total == Line(TOTAL, "", Figures(4, 20, 650, None, 1, 100, MB + 1, 2, 1))
    assert units[0].lines[0].limits_from == "_ALL_DS"
    assert units[1].lines == () and units[1].total.figures == Figures(volume_limit=0)
    assert units[3].lines[0].datastore == "ds:///vmfs/volumes/gone/"  # a datastore the backend no longer sees


def test_a_pattern_picks_vmgroups_by_name_as_volume_ls_does() -> None:
    assert [u.name for u in report(ROWS, DATASTORES, pattern="w*")] == ["web"]
    assert [u.name for u in report(ROWS, DATASTORES, pattern="*")] == ["db", "empty", "web", "zgone"]
    assert report(ROWS, DATASTORES, pattern="nothing") == []


def test_a_label_rolls_vmgroups_up_by_value_with_the_unlabelled_last() -> None:
    units = report(ROWS, DATASTORES, by_label="cost-center")
    assert [(u.name, u.vmgroups) for u in units] == [("cc1", ("db", "web")), (NO_LABEL, ("empty", "zgone"))]
    cc1 = units[0]
    assert cc1.lines == (
        Line("ds1", "", Figures(5, None, 900, None, 1, 100, 6 * MB + 1, 3, 1)),
        Line("ds2", "", Figures(1, None, 50, None, 0, 0, 0, 0, 0)),
    )
    assert cc1.total == Line(TOTAL, "", Figures(6, None, 950, None, 1, 100, 6 * MB + 1, 3, 1))
    assert [u.name for u in report(ROWS, DATASTORES, pattern="w*", by_label="cost-center")] == ["cc1"]


def test_table_cells_show_sizes_limits_and_what_does_not_apply() -> None:
    assert headers(None) == ["VMGroup", "Datastore", "Volumes", "Volume_limit", "Provisioned", "Size_limit",
                             "Reserved", "Reserved_size", "Allocated", "Attached", "Idle", "Limits_from"]  # fmt: skip
    assert headers("team")[0] == "team" and headers("team")[-1] == "VMGroups"
    web = report(ROWS, DATASTORES)[2]
    assert cells(web, web.lines[0], None) == [
        "web", "ds1", "3", "10", "600.00MB", "1.00GB", "1", "100.00MB", "2.00MB", "2", "1", "ds1",
    ]  # fmt: skip
    assert cells(web, web.lines[1], None)[2:6] == ["1", "0", "50.00MB", "Unset"]
    assert cells(web, web.total, None) == [
        "web", "(total)", "4", "20", "650.00MB", "N/A", "1", "100.00MB", "2.00MB", "2", "1", "",
    ]  # fmt: skip
    empty = report(ROWS, DATASTORES)[1]
    assert cells(empty, empty.total, None)[2:9] == ["0", "0", "0.00MB", "N/A", "0", "0.00MB", "0.00MB"]
    cc1 = report(ROWS, DATASTORES, by_label="team")[0]
    assert cells(cc1, cc1.lines[0], "team")[3:6] == ["N/A", "900.00MB", "N/A"]
    assert cells(cc1, cc1.lines[0], "team")[-1] == ""
    assert cells(cc1, cc1.total, "team")[-1] == "db,web"


def test_samples_are_filed_under_the_utc_day() -> None:
    late = datetime(2024, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # already March 2nd in UTC
    assert sample_day(late) == "2024-03-02"
    assert sample_day(datetime(2024, 3, 1, 0, 0, tzinfo=UTC)) == "2024-03-01"


def test_volumes_are_named_as_the_report_names_their_lines() -> None:
    volumes = [
        ("id-web", DS1.url, "a", 100, MB, True),
        ("id-zgone", "ds:///vmfs/volumes/gone/", "b", 10, 0, False),  # a datastore no longer seen: its URL
        ("id-removed", DS2.url, "c", 5, 0, False),  # its vmgroup went after the report's read: left out
    ]
    assert volume_lines(ROWS, volumes, DATASTORES) == [
        VolumeLine("web", "ds1", "a", 100, MB, True),
        VolumeLine("zgone", "ds:///vmfs/volumes/gone/", "b", 10, 0, False),
    ]
    assert [line.datastore for line in report(ROWS, DATASTORES)[3].lines] == ["ds:///vmfs/volumes/gone/"]
