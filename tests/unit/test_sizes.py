"""Size parsing (create `size=`, admin limits) and the two size formats vDVS showed."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.sizes import (
    DEFAULT_SIZE,
    DEFAULT_SIZE_MB,
    MAX_DISK_MB,
    format_admin_size,
    format_kv_size,
    parse_size_mb,
)

INVALID_SIZE_TEXT = (
    "Invalid format for size. \nValid sizes must be of form X[mMgGtT]b where X is an integer. Default = 100mb"
)
KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4


def test_defaults() -> None:
    assert DEFAULT_SIZE == "100mb"
    assert DEFAULT_SIZE_MB == 100
    assert parse_size_mb(DEFAULT_SIZE) == DEFAULT_SIZE_MB
    assert MAX_DISK_MB == 62 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("10gb", 10240),
        ("10GB", 10240),
        ("10Gb", 10240),
        ("10gB", 10240),
        ("2tb", 2 * 1024 * 1024),
        ("2TB", 2 * 1024 * 1024),
        ("200mb", 200),
        ("200MB", 200),
        ("1mb", 1),
        ("2gb", 2048),
        ("1023mb", 1023),
        ("1024mb", 1024),
        ("1025mb", 1025),
        ("007gb", 7 * 1024),
        ("62tb", 62 * 1024 * 1024),
        ("63488gb", 62 * 1024 * 1024),
    ],
)
def test_valid_sizes(text: str, mb: int) -> None:
    assert parse_size_mb(text) == mb


@pytest.mark.parametrize(
    "text",
    [
        "10xb",
        "2",
        "mb",
        "gb",
        "1.5gb",
        "-5gb",
        "+5gb",
        " 10gb",
        "10gb ",
        "10 gb",
        "100mbb",
        "100gbEE",
        "14000pb",
        "10pb",
        "10kb",
        "10b",
        "10g",
        "",
        "size",
        "12unknown",
        "bad size",
        "1e3mb",
        "0x10mb",
        "\u0661\u0660gb",  # Arabic-Indic digits are not X
        "10gb\n",  # nothing may trail the unit, not even a newline
        "\n10gb",
    ],
)
def test_malformed_sizes(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_size_mb(text)
    assert info.value.err is Err.INVALID_SIZE
    assert info.value.code == 611
    assert info.value.message == INVALID_SIZE_TEXT
    assert info.value.kind is Kind.INVALID


@pytest.mark.parametrize("text", ["0mb", "0gb", "0TB", "000mb"])
def test_zero_size(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_size_mb(text)
    assert info.value.err is Err.OPT_VOLUME_SIZE_INVALID
    assert info.value.code == 507
    assert info.value.message == "Invalid volume size specified."


@pytest.mark.parametrize("text", ["63tb", "200tb", "63489gb", f"{62 * 1024 * 1024 + 1}mb", "1000000tb"])
def test_too_large(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_size_mb(text)
    assert info.value.err is Err.VOLUME_SIZE_TOO_LARGE
    assert info.value.message == f"Invalid volume size {text}: the largest virtual disk is 62TB"
    assert info.value.kind is Kind.INVALID


@pytest.mark.parametrize("limit", [False, True])
def test_absurdly_long_number_is_a_vdvs_error(limit: bool) -> None:
    # 5000 digits: int() refuses strings over 4300 digits with a bare ValueError;
    # the user must get a size error, not an internal failure.
    text = "1" * 5000 + "mb"
    with pytest.raises(VdvsError) as info:
        parse_size_mb(text, limit=limit)
    assert info.value.err in (Err.INVALID_SIZE, Err.VOLUME_SIZE_TOO_LARGE)


# ---------------------------------------------------------------- admin limits


@pytest.mark.parametrize("text", ["Unset", "unset", "UNSET", "0", "", "  ", " Unset "])
def test_limit_unset(text: str) -> None:
    assert parse_size_mb(text, limit=True) == 0


@pytest.mark.parametrize(
    ("text", "mb"),
    [("500mb", 500), ("500MB", 500), ("1gb", 1024), ("1GB", 1024), ("2tb", 2 * 1024 * 1024), (" 2gb ", 2048)],
)
def test_limit_values(text: str, mb: int) -> None:
    assert parse_size_mb(text, limit=True) == mb


def test_limit_is_not_capped_at_one_disk() -> None:
    # a total-size quota may exceed the largest single disk
    assert parse_size_mb("100tb", limit=True) == 100 * 1024 * 1024


@pytest.mark.parametrize("text", ["abc", "10", "1.5gb", "-1gb", "10xb", "1 gb", "Unsetx", "none"])
def test_limit_malformed_is_an_error(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_size_mb(text, limit=True)
    assert info.value.err is Err.INVALID_SIZE
    assert info.value.message == INVALID_SIZE_TEXT


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0, "0"),
        (1, "1"),
        (1023, "1023"),
        (KB, "1KB"),
        (KB + 1023, "1KB"),
        (MB - 1, "1023KB"),
        (MB, "1MB"),
        (32 * MB, "32MB"),
        (100 * MB, "100MB"),
        (GB - 1, "1023MB"),
        (GB, "1GB"),
        (GB + GB // 2, "1GB"),
        (2 * GB, "2GB"),
        (TB, "1024GB"),
        (2 * TB, "2048GB"),
    ],
)
def test_format_kv_size(nbytes: int, text: str) -> None:
    assert format_kv_size(nbytes) == text


@pytest.mark.parametrize(
    ("mb", "text"),
    [
        (0, "Unset"),
        (1, "1.00MB"),
        (500, "500.00MB"),
        (600, "600.00MB"),
        (1000, "1000.00MB"),
        (1023, "1023.00MB"),
        (1024, "1.00GB"),
        (1536, "1.50GB"),
        (20480, "20.00GB"),
        (1024 * 1024, "1.00TB"),
    ],
)
def test_format_admin_size(mb: int, text: str) -> None:
    assert format_admin_size(mb) == text


def test_admin_format_of_parsed_limits() -> None:
    # what `vdvs vmgroup access ls` shows for `--volume-maxsize=600MB --volume-totalsize=1GB`
    assert format_admin_size(parse_size_mb("600MB", limit=True)) == "600.00MB"
    assert format_admin_size(parse_size_mb("1GB", limit=True)) == "1.00GB"
    assert format_admin_size(parse_size_mb("Unset", limit=True)) == "Unset"
