"""`docker volume create -o` validation: vDVS's keys, values, defaults, texts and check order."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.options import (
    DEFAULTS,
    VALID_KEYS,
    CreateOptions,
    VolumeOptions,
    validate_create_options,
    validate_editable_options,
)
from vdvs.tenancy.sizes import parse_size_mb

HOST_FS = ["ext4", "xfs"]
VALID_LIST = (
    "[('size', '100mb'), ('vsan-policy-name', '[VSAN default]'), ('diskformat', 'thin'), "
    "('attach-as', 'independent_persistent'), ('access', 'read-write'), ('fstype', 'ext4'), "
    "('clone-from', 'None')]"
)
INVALID_SIZE_TEXT = (
    "Invalid format for size. \nValid sizes must be of form X[mMgGtT]b where X is an integer. Default = 100mb"
)


def invalid_options(keys: str) -> str:
    return f"Invalid options: {keys} \nValid options and defaults: {VALID_LIST}"


def diskformat_text(value: str) -> str:
    return (
        f"Disk Allocation Format '{value}' is not supported. "
        "Valid options are: ['zeroedthick', 'thin', 'eagerzeroedthick']."
    )


def attach_as_text(value: str) -> str:
    return f"Attach type '{value}' is not supported. Valid options are: ['independent_persistent', 'persistent']"


def access_text(value: str) -> str:
    return f"Access type '{value}' is not supported. Valid options are: ['read-write', 'read-only']"


def refused(opts: dict[str, str] | None, host_fs: list[str] | None = HOST_FS) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        validate_create_options(opts, host_fs)
    assert info.value.kind is Kind.INVALID or info.value.err is Err.CLONE_SOURCE_NOT_FOUND
    return info.value


# ---------------------------------------------------------------- defaults and valid values


def test_keys_and_defaults_in_vdvs_order() -> None:
    assert VALID_KEYS == ("size", "vsan-policy-name", "diskformat", "attach-as", "access", "fstype", "clone-from")
    assert str(list(DEFAULTS)) == VALID_LIST


@pytest.mark.parametrize("opts", [None, {}])
def test_no_options_gives_defaults(opts: dict[str, str] | None) -> None:
    result = validate_create_options(opts)
    assert result == CreateOptions(size_mb=100, options=VolumeOptions(fstype="ext4"), clone_source=None)
    assert result.options == VolumeOptions(
        diskformat="thin", attach_as="independent_persistent", access="read-write", fstype="ext4"
    )
    # the defaults vDVS wrote into volOpts; size only when the user gave one
    assert result.options.recorded() == {
        "diskformat": "thin",
        "attach-as": "independent_persistent",
        "access": "read-write",
        "fstype": "ext4",
    }


def test_input_mapping_is_not_modified() -> None:
    opts = {"size": "1gb"}
    validate_create_options(opts)
    assert opts == {"size": "1gb"}


@pytest.mark.parametrize(
    ("size", "mb"), [("2gb", 2048), ("2GB", 2048), ("200mb", 200), ("200MB", 200), ("1tb", 1048576)]
)
def test_valid_sizes(size: str, mb: int) -> None:
    result = validate_create_options({"size": size})
    assert result.size_mb == mb
    assert result.options.size == size  # recorded as the user gave it
    recorded = result.options.recorded()
    assert parse_size_mb(recorded["size"]) == mb


@pytest.mark.parametrize("value", ["thin", "zeroedthick", "eagerzeroedthick"])
def test_valid_diskformats(value: str) -> None:
    result = validate_create_options({"diskformat": value})
    assert result.options.diskformat == value
    assert result.options.recorded()["diskformat"] == value


@pytest.mark.parametrize("value", ["independent_persistent", "persistent"])
def test_valid_attach_as(value: str) -> None:
    result = validate_create_options({"attach-as": value})
    assert result.options.attach_as == value
    assert result.options.recorded()["attach-as"] == value


@pytest.mark.parametrize("value", ["read-write", "read-only"])
def test_valid_access(value: str) -> None:
    result = validate_create_options({"access": value})
    assert result.options.access == value
    assert result.options.recorded()["access"] == value


@pytest.mark.parametrize("value", HOST_FS)
def test_fstype_the_host_can_make(value: str) -> None:
    result = validate_create_options({"fstype": value, "size": "300mb"}, HOST_FS)
    assert result.options.fstype == value
    assert result.options.recorded()["fstype"] == value


def test_fstype_unchecked_without_host_list() -> None:
    assert validate_create_options({"fstype": "btrfs", "size": "1gb"}).options.fstype == "btrfs"


def test_default_fstype_is_checked_against_the_host() -> None:
    err = refused({}, ["xfs"])
    assert err.err is Err.FSTYPE_NOT_FOUND
    assert err.message == "Not found mkfs for ext4\nSupported filesystems found: xfs"


def test_vsan_policy_is_passed_through() -> None:
    result = validate_create_options({"vsan-policy-name": "gold"})
    assert result.options.vsan_policy == "gold"
    assert result.options.recorded()["vsan-policy-name"] == "gold"


def test_all_options_together() -> None:
    opts = {
        "size": "10gb",
        "vsan-policy-name": "gold",
        "diskformat": "eagerzeroedthick",
        "attach-as": "persistent",
        "access": "read-only",
        "fstype": "xfs",
    }
    result = validate_create_options(opts, HOST_FS)
    assert (
        result.size_mb,
        result.options.diskformat,
        result.options.attach_as,
        result.options.access,
        result.options.fstype,
    ) == (
        10240,
        "eagerzeroedthick",
        "persistent",
        "read-only",
        "xfs",
    )
    recorded = result.options.recorded()
    assert set(recorded) == set(opts)
    assert {k: v for k, v in recorded.items() if k != "size"} == {k: v for k, v in opts.items() if k != "size"}


def test_clone() -> None:
    result = validate_create_options({"clone-from": "src@ds1", "diskformat": "zeroedthick"}, HOST_FS)
    assert result.clone_source == VolumeName("src", "ds1")
    assert result.options.clone_from == "src"  # vDVS recorded the source's short name
    assert result.options.fstype is None  # inherited from the source
    assert result.options.diskformat == "zeroedthick"
    assert result.options.size is None
    recorded = result.options.recorded()
    assert recorded["clone-from"] == "src"
    assert "fstype" not in recorded
    assert "size" not in recorded


def test_clone_does_not_need_mkfs_on_the_host() -> None:
    assert validate_create_options({"clone-from": "src"}, []).options.fstype is None


# ---------------------------------------------------------------- vDVS invalid list


@pytest.mark.parametrize(
    ("opts", "err", "text"),
    [
        ({"diskformat": "zeroedthickk"}, Err.INVALID_DISKFORMAT, diskformat_text("zeroedthickk")),
        ({"diskformat": "zeroedthick,thin"}, Err.INVALID_DISKFORMAT, diskformat_text("zeroedthick,thin")),
        ({"diskformat": "thiN"}, Err.INVALID_DISKFORMAT, diskformat_text("thiN")),
        ({"diskformat": "5disk"}, Err.INVALID_DISKFORMAT, diskformat_text("5disk")),
        ({"diskformat": ""}, Err.INVALID_DISKFORMAT, diskformat_text("")),
        ({"size": "100mbb"}, Err.INVALID_SIZE, INVALID_SIZE_TEXT),
        ({"size": "12unknown"}, Err.INVALID_SIZE, INVALID_SIZE_TEXT),
        ({"size": "2"}, Err.INVALID_SIZE, INVALID_SIZE_TEXT),
        ({"size": "mb"}, Err.INVALID_SIZE, INVALID_SIZE_TEXT),
        ({"size": "0mb"}, Err.OPT_VOLUME_SIZE_INVALID, "Invalid volume size specified."),
        ({"sizes": "100mb"}, Err.INVALID_OPTIONS, invalid_options("['sizes']")),
        ({"policy": "gold"}, Err.INVALID_OPTIONS, invalid_options("['policy']")),
        ({"acess": "read-only"}, Err.INVALID_OPTIONS, invalid_options("['acess']")),
        ({"atach-as": "persistent"}, Err.INVALID_OPTIONS, invalid_options("['atach-as']")),
        ({"Size": "1gb"}, Err.INVALID_OPTIONS, invalid_options("['Size']")),
        (
            {"fstype": "xfs_ext"},
            Err.FSTYPE_NOT_FOUND,
            "Not found mkfs for xfs_ext\nSupported filesystems found: ext4, xfs",
        ),
        ({"access": "read-write-both"}, Err.INVALID_ACCESS, access_text("read-write-both")),
        ({"access": "write-only"}, Err.INVALID_ACCESS, access_text("write-only")),
        ({"access": "only-read"}, Err.INVALID_ACCESS, access_text("only-read")),
        ({"access": "Read-Only"}, Err.INVALID_ACCESS, access_text("Read-Only")),
        ({"attach-as": "persisten"}, Err.INVALID_ATTACH_AS, attach_as_text("persisten")),
        ({"attach-as": "Persistent"}, Err.INVALID_ATTACH_AS, attach_as_text("Persistent")),
        ({"clone-from": "src", "size": "1gb"}, Err.CLONE_WITH_SIZE, "Cannot define the size for a clone"),
        (
            {"clone-from": "src", "fstype": "ext4"},
            Err.CLONE_WITH_FSTYPE,
            "Cannot define the filesystem type for a clone",
        ),
        ({"clone-from": ""}, Err.CLONE_SOURCE_NOT_FOUND, "Could not find volume for cloning "),
    ],
)
def test_invalid_options(opts: dict[str, str], err: Err, text: str) -> None:
    error = refused(opts)
    assert error.err is err
    assert error.message == text


def test_several_unknown_keys_are_listed_sorted() -> None:
    error = refused({"zeta": "1", "size": "1gb", "alpha": "2"})
    assert error.message == invalid_options("['alpha', 'zeta']")


def test_error_codes() -> None:
    assert refused({"bogus": "1"}).code == 610
    assert refused({"size": "x"}).code == 611
    assert refused({"clone-from": "a", "size": "1gb"}).code == 612
    assert refused({"clone-from": "a", "fstype": "xfs"}).code == 613
    assert refused({"diskformat": "x"}).code == 614
    assert refused({"attach-as": "x"}).code == 615
    assert refused({"access": "x"}).code == 616
    assert refused({"fstype": "x"}).code == 617


# ---------------------------------------------------------------- check order (vDVS validate_opts)


@pytest.mark.parametrize(
    ("opts", "err"),
    [
        # unknown keys first, whatever else is wrong
        ({"bogus": "1", "size": "bad", "diskformat": "bad"}, Err.INVALID_OPTIONS),
        ({"bogus": "1", "clone-from": "a", "size": "1gb"}, Err.INVALID_OPTIONS),
        # size: the clone check comes before the format check
        ({"clone-from": "a", "size": "bad"}, Err.CLONE_WITH_SIZE),
        ({"clone-from": "a", "size": "1gb", "fstype": "ext4"}, Err.CLONE_WITH_SIZE),
        # then size, diskformat, attach-as, access, fstype
        ({"size": "bad", "diskformat": "bad"}, Err.INVALID_SIZE),
        ({"diskformat": "bad", "attach-as": "bad"}, Err.INVALID_DISKFORMAT),
        ({"attach-as": "bad", "access": "bad"}, Err.INVALID_ATTACH_AS),
        ({"access": "bad", "fstype": "bad"}, Err.INVALID_ACCESS),
        ({"size": "bad", "fstype": "bad"}, Err.INVALID_SIZE),
    ],
)
def test_first_failing_check_is_reported(opts: dict[str, str], err: Err) -> None:
    assert refused(opts).err is err


@pytest.mark.parametrize(
    ("opts", "err"),
    [
        # vDVS validate_opts checks fstype (and its clone rule) LAST:
        # size -> vsan policy -> diskformat -> attach-as -> access -> fstype.
        ({"clone-from": "a", "fstype": "ext4", "diskformat": "bad"}, Err.INVALID_DISKFORMAT),
        ({"clone-from": "a", "fstype": "ext4", "attach-as": "bad"}, Err.INVALID_ATTACH_AS),
        ({"clone-from": "a", "fstype": "ext4", "access": "bad"}, Err.INVALID_ACCESS),
    ],
)
def test_clone_fstype_rule_is_checked_after_the_other_values(opts: dict[str, str], err: Err) -> None:
    assert refused(opts).err is err


# ---------------------------------------------------------------- `vdvs volume set --options`


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"access": "read-only"},
        {"access": "read-write"},
        {"attach-as": "persistent"},
        {"attach-as": "independent_persistent"},
        {"access": "read-only", "attach-as": "persistent"},
    ],
)
def test_editable_options_valid(opts: dict[str, str]) -> None:
    assert validate_editable_options(opts) == opts


@pytest.mark.parametrize(
    ("opts", "text"),
    [
        ({"size": "1gb"}, "Invalid options: ['size'] \nOptions that can be edited: ['access', 'attach-as']"),
        (
            {"diskformat": "thin", "access": "read-only"},
            "Invalid options: ['diskformat'] \nOptions that can be edited: ['access', 'attach-as']",
        ),
        (
            {"fstype": "xfs", "clone-from": "a"},
            "Invalid options: ['clone-from', 'fstype'] \nOptions that can be edited: ['access', 'attach-as']",
        ),
        ({"access": "rw"}, access_text("rw")),
        ({"attach-as": "persisten"}, attach_as_text("persisten")),
    ],
)
def test_editable_options_invalid(opts: dict[str, str], text: str) -> None:
    with pytest.raises(VdvsError) as info:
        validate_editable_options(opts)
    assert info.value.message == text
    assert info.value.kind is Kind.INVALID


def test_editable_unknown_key_code() -> None:
    with pytest.raises(VdvsError) as info:
        validate_editable_options({"size": "1gb"})
    assert info.value.err is Err.INVALID_EDIT_OPTIONS
    assert info.value.code == 609
