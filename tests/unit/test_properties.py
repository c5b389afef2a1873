"""Property tests: the parsers only ever fail with a VdvsError, and what they accept is safe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.names import MAX_DATASTORE_NAME_LEN, MAX_VOLUME_NAME_LEN, parse_volume_name
from vdvs.tenancy.sizes import MAX_DISK_MB, parse_size_mb

SETTINGS = settings(max_examples=400, deadline=None, database=None)

# Text biased towards the characters the rules are about.
name_like = st.text(alphabet=st.sampled_from("ab@/\\\x00.-0123456789 é你"), max_size=220) | st.text(max_size=220)
UNITS = {"mb": 1, "gb": 1024, "tb": 1024 * 1024}


@SETTINGS
@given(name_like)
def test_parse_volume_name_only_raises_vdvs_errors(raw: str) -> None:
    try:
        parsed = parse_volume_name(raw)
    except VdvsError as exc:
        assert exc.message
        return
    assert parsed.name
    assert "/" not in parsed.name
    assert "\\" not in parsed.name
    assert "\x00" not in parsed.name
    assert parsed.name not in (".", "..")
    assert len(parsed.name) <= MAX_VOLUME_NAME_LEN
    if parsed.datastore is None:
        assert "@" not in raw
        assert parsed.name == raw
    else:
        assert len(parsed.datastore) <= MAX_DATASTORE_NAME_LEN
        assert "@" not in parsed.datastore  # split on the LAST '@'
        assert f"{parsed.name}@{parsed.datastore}" == raw


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_characters="/\\@\x00"), min_size=1, max_size=MAX_VOLUME_NAME_LEN))
def test_every_plain_name_up_to_100_chars_is_accepted_unless_snapshot_like(name: str) -> None:
    try:
        parsed = parse_volume_name(name)
    except VdvsError as exc:
        assert exc.err in (Err.VOLUME_NAME_SNAPSHOT_SUFFIX, Err.VOLUME_NAME_ILLEGAL_CHARS)
        if exc.err is Err.VOLUME_NAME_ILLEGAL_CHARS:
            assert name in (".", "..")
        return
    assert parsed.name == name
    assert parsed.datastore is None


@SETTINGS
@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(UNITS)), st.data())
def test_parse_size_round_trips(n: int, unit: str, data: st.DataObject) -> None:
    spelled = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in unit)
    expected = n * UNITS[unit]
    text = f"{n}{spelled}"
    if expected <= MAX_DISK_MB:
        assert parse_size_mb(text) == expected
        assert parse_size_mb(text, limit=True) == expected
    else:
        try:
            parse_size_mb(text)
        except VdvsError as exc:
            assert exc.err is Err.VOLUME_SIZE_TOO_LARGE
        else:
            raise AssertionError(f"{text} is larger than the largest disk")


@SETTINGS
@given(st.text(alphabet=st.sampled_from("0123456789mgbtMGBT .-+kpx\n"), max_size=30) | st.text(max_size=30))
def test_parse_size_only_raises_vdvs_errors(text: str) -> None:
    for limit in (False, True):
        try:
            mb = parse_size_mb(text, limit=limit)
        except VdvsError:
            continue
        assert isinstance(mb, int)
        assert mb >= 0
