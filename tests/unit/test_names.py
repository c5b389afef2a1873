"""Volume-name parsing: vDVS's parse_vol_name table (VolumeNamingTestCase) and its error texts."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.names import (
    MAX_DATASTORE_NAME_LEN,
    MAX_VOLUME_NAME_LEN,
    VolumeName,
    match_datastore,
    parse_volume_name,
)

SNAPSHOT_TEXT = "Volume names ending with '-NNNNNN' (where N is a digit) are not supported"
TOO_LONG_TEXT = "Volume name is too long (max len is 100)"
DS_TOO_LONG_TEXT = "Datastore name is too long (max len is 100)"
EMPTY_TEXT = "No volume with name as empty string exists"


def illegal(char: str) -> str:
    return f"Volume name contains illegal characters: {char}"


@pytest.mark.parametrize(
    ("raw", "name", "datastore"),
    [
        # vDVS VolumeNamingTestCase, verbatim
        ("MyVolume123_a_.vol@vsanDatastore_11", "MyVolume123_a_.vol", "vsanDatastore_11"),
        ("a1@x", "a1", "x"),
        ("1", "1", None),
        ("strange-volume-10@vsan:Datastore", "strange-volume-10", "vsan:Datastore"),
        ("dashes-and stuff !@datastore ok", "dashes-and stuff !", "datastore ok"),
        ("Volume.123@dots.dot", "Volume.123", "dots.dot"),
        ("spacesindatastore@local   .3 -   0", "spacesindatastore", "local   .3 -   0"),
        # docs examples
        ("MyVolume_fast.12", "MyVolume_fast.12", None),
        ("_12SuperStorage", "_12SuperStorage", None),
        ("super-volume-200", "super-volume-200", None),
        # only exactly six digits after a dash look like a snapshot delta
        ("Volume-00000", "Volume-00000", None),
        ("Volume-0000000", "Volume-0000000", None),
        ("Volume000001", "Volume000001", None),
        ("Volume-00000a", "Volume-00000a", None),
        ("vol-000001x@ds", "vol-000001x", "ds"),
        # split on the LAST '@'
        ("abc@@@@ds", "abc@@@", "ds"),
        ("a@b@c", "a@b", "c"),
        # anything but / and \ is allowed
        ("Volume-你好", "Volume-你好", None),
        ("Volume Space", "Volume Space", None),
        ("Volume Space@local ds", "Volume Space", "local ds"),
        ("...", "...", None),
        (".hidden", ".hidden", None),
        # a snapshot-like datastore is not the volume's business
        ("vol@ds-000001", "vol", "ds-000001"),
        # characters illegal in a volume name are not checked in the datastore part
        ("vol@ds/x", "vol", "ds/x"),
    ],
)
def test_accepted_names(raw: str, name: str, datastore: str | None) -> None:
    assert parse_volume_name(raw) == VolumeName(name, datastore)


def test_exactly_100_characters_is_accepted() -> None:
    raw = "x" * MAX_VOLUME_NAME_LEN
    assert parse_volume_name(raw) == VolumeName(raw, None)
    assert parse_volume_name(raw + "@ds") == VolumeName(raw, "ds")


def test_datastore_of_exactly_100_characters_is_accepted() -> None:
    ds = "d" * MAX_DATASTORE_NAME_LEN
    assert parse_volume_name(f"vol@{ds}") == VolumeName("vol", ds)


def test_trailing_at_gives_empty_datastore_not_none() -> None:
    # "vol@" names a datastore (the empty one), which the resolver then refuses;
    # it must not silently fall back to the default datastore.
    assert parse_volume_name("vol@") == VolumeName("vol", "")


def test_full_name() -> None:
    assert parse_volume_name("vol").on("ds1").full == "vol@ds1"
    assert parse_volume_name("a@b@c").full == "a@b@c"
    assert parse_volume_name("vol").full == "vol"  # unresolved: the name as given


def test_volume_name_owns_lock_key_and_disk() -> None:
    """Two vmgroups may own db@ds1: the lock key and the disk carry the vmgroup; the datastore's case
    does not split one volume into two keys."""
    volume = VolumeName("db", "DS1")
    assert volume.lock_key("g1") != volume.lock_key("g2")
    assert volume.lock_key("g1") == VolumeName("db", "ds1").lock_key("g1")
    disk = volume.disk("g1")
    assert (disk.datastore, disk.vmdk, disk.sidecar) == ("DS1", "dockvols/g1/db.vmdk", "dockvols/g1/db.vmfd")


@pytest.mark.parametrize(
    ("raw", "err", "text"),
    [
        ("no-snaps-please-000001@datastore", Err.VOLUME_NAME_SNAPSHOT_SUFFIX, SNAPSHOT_TEXT),
        ("myVolume-000012", Err.VOLUME_NAME_SNAPSHOT_SUFFIX, SNAPSHOT_TEXT),
        ("-000001", Err.VOLUME_NAME_SNAPSHOT_SUFFIX, SNAPSHOT_TEXT),
        ("x" * 101, Err.VOLUME_NAME_TOO_LONG, TOO_LONG_TEXT),
        ("x" * 101 + "@ds", Err.VOLUME_NAME_TOO_LONG, TOO_LONG_TEXT),
        ("volume/abc", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("/")),
        ("volume/abc@ds", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("/")),
        ("../etc/passwd", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("/")),
        ("volume\\abc", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("\\")),
        ("vol\x00ume", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("NUL")),
        ("vol\x00@ds", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("NUL")),
        (".", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal(".")),
        ("..", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("..")),
        ("..@ds", Err.VOLUME_NAME_ILLEGAL_CHARS, illegal("..")),
        ("", Err.VOLUME_NAME_EMPTY, EMPTY_TEXT),
        ("@ds", Err.VOLUME_NAME_EMPTY, EMPTY_TEXT),
        ("@", Err.VOLUME_NAME_EMPTY, EMPTY_TEXT),
        ("vol@" + "d" * 101, Err.DATASTORE_NAME_TOO_LONG, DS_TOO_LONG_TEXT),
    ],
)
def test_rejected_names(raw: str, err: Err, text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_volume_name(raw)
    assert info.value.err is err
    assert info.value.message == text
    assert str(info.value) == text
    assert info.value.kind is Kind.INVALID


@pytest.mark.parametrize(
    ("raw", "err"),
    [
        # snapshot suffix is checked before length
        ("x" * 120 + "-000001", Err.VOLUME_NAME_SNAPSHOT_SUFFIX),
        # snapshot suffix before illegal characters
        ("a/b-000001", Err.VOLUME_NAME_SNAPSHOT_SUFFIX),
        # length before illegal characters
        ("/" * 101, Err.VOLUME_NAME_TOO_LONG),
        ("a\\" * 60, Err.VOLUME_NAME_TOO_LONG),
        # volume-name rules before the datastore-name length
        ("a/b@" + "d" * 101, Err.VOLUME_NAME_ILLEGAL_CHARS),
        ("x" * 101 + "@" + "d" * 101, Err.VOLUME_NAME_TOO_LONG),
        ("v-123456@" + "d" * 101, Err.VOLUME_NAME_SNAPSHOT_SUFFIX),
        # an empty volume part wins over everything about the datastore
        ("@" + "d" * 101, Err.VOLUME_NAME_EMPTY),
    ],
)
def test_first_failing_rule_is_reported(raw: str, err: Err) -> None:
    with pytest.raises(VdvsError) as info:
        parse_volume_name(raw)
    assert info.value.err is err


def test_name_error_codes() -> None:
    cases = {
        "a-000001": 601,
        "x" * 101: 602,
        "a/b": 603,
        "a@" + "d" * 101: 604,
        "": 607,
    }
    for raw, code in cases.items():
        with pytest.raises(VdvsError) as info:
            parse_volume_name(raw)
        assert info.value.code == code, raw


# ---------------------------------------------------------------- datastore matching


@pytest.mark.parametrize(
    ("requested", "known", "expected"),
    [
        ("vsanDatastore", ["local", "vsanDatastore"], "vsanDatastore"),
        ("VSANDATASTORE", ["local", "vsanDatastore"], "vsanDatastore"),
        ("vsandatastore", ["local", "vsanDatastore"], "vsanDatastore"),
        ("LoCaL", ["local", "vsanDatastore"], "local"),
        ("datastore ok", ["Datastore OK"], "Datastore OK"),
        ("missing", ["local", "vsanDatastore"], None),
        ("local", [], None),
        ("", ["local"], None),
        # an exact spelling wins even when other names differ only in case
        ("ds1", ["DS1", "ds1"], "ds1"),
        ("DS1", ["DS1", "ds1"], "DS1"),
    ],
)
def test_match_datastore(requested: str, known: list[str], expected: str | None) -> None:
    assert match_datastore(requested, known) == expected


def test_match_datastore_accepts_any_iterable() -> None:
    assert match_datastore("B", (name for name in ["a", "b"])) == "b"


def test_ambiguous_datastore_lists_the_matches() -> None:
    with pytest.raises(VdvsError) as info:
        match_datastore("dS1", ["ds1", "Ds1", "other"])
    assert info.value.err is Err.DATASTORE_AMBIGUOUS
    assert info.value.code == 605
    assert info.value.message == ("Found multiple datastores with same name (ignoring case difference): ['Ds1', 'ds1']")
