"""The one rule of versions on the wire (vdvs.proto.wire_version), and the refusals in words."""

from __future__ import annotations

import pytest

from vdvs.broker.versions import refusal
from vdvs.proto.version import VERSION
from vdvs.proto.wire_version import (
    BROKER_REFUSALS,
    BROKER_UNREADABLE,
    LEGACY,
    OLDEST_PROTOCOL,
    OWN,
    PROTOCOL,
    BadMetadata,
    Judged,
    Level,
    Verdict,
    judge,
    metadata,
    mismatch,
    parse,
)
from vdvs.tenancy.errors import Err, Kind

BROKER_2 = Level("0.2.0", 2, 1)


@pytest.mark.parametrize(
    ("peer", "verdict"),
    [
        (Level("0.1.0", 1, 1), Verdict.OK),  # a 0.1.0 plugin: served
        (Level("0.2.0", 2, 1), Verdict.OK),
        (Level("0.3.0", 3, 2), Verdict.OK),  # newer, but still speaks level 2
        (Level("0.9.0", 7, 5), Verdict.PEER_TOO_NEW),  # no longer speaks level 2
        (Level("0.0.9", 0, 0), Verdict.PEER_TOO_OLD),
    ],
)
def test_judge_lets_the_newer_side_decide(peer: Level, verdict: Verdict) -> None:
    assert judge(BROKER_2, peer) is verdict


def test_a_later_broker_that_dropped_level_1_refuses_a_0_1_0_plugin() -> None:
    broker = Level("0.5.0", 4, 2)
    assert judge(broker, LEGACY) is Verdict.PEER_TOO_OLD
    assert mismatch(Verdict.PEER_TOO_OLD, "plugin", LEGACY, "broker", broker) == (
        "vdvs plugin 0.1.0 (protocol 1) is older than this broker 0.5.0 supports (protocol 2-4): upgrade the plugin"
    )


def test_the_briefs_example_refusal_reads_word_for_word() -> None:
    text = mismatch(Verdict.PEER_TOO_NEW, "plugin", Level("0.9.0", 7, 5), "broker", Level("0.1.0", 2, 1))
    assert (
        text
        == "vdvs plugin 0.9.0 (protocol 7) is newer than this broker 0.1.0 supports (protocol 1-2): upgrade the broker"
    )


def test_this_tree_speaks_level_2_and_still_level_1() -> None:
    assert (OWN.version, OWN.protocol, OWN.oldest) == (VERSION, 2, 1)
    assert metadata() == (("vdvs-version", VERSION), ("vdvs-protocol", "1-2"))


def test_no_metadata_at_all_is_a_0_1_0_peer() -> None:
    assert parse(None, None) == LEGACY
    assert (LEGACY.version, LEGACY.protocol, LEGACY.declared) == ("0.1.0", 1, False)


def test_metadata_values_parse_as_bytes_or_text_and_one_level_is_a_span_of_one() -> None:
    assert parse(b"0.3.0", b"2-3") == Level("0.3.0", 3, 2)
    assert parse("0.3.0", "3") == Level("0.3.0", 3, 3)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (("0.2.0", "two"), "vdvs-protocol 'two' is not a protocol level (N, or OLDEST-NEWEST)"),
        (("0.2.0", "-1"), "vdvs-protocol '-1' is not a protocol level"),
        (("0.2.0", "1-2-3"), "vdvs-protocol '1-2-3' is not a protocol level"),
        (("0.2.0", "99999999"), "vdvs-protocol '99999999' is not a protocol level"),
        (("0.2.0", None), "vdvs-protocol is missing"),
        (("0.2.0", "3-2"), "vdvs-protocol '3-2': the oldest level is above the newest"),
        (("", "1-2"), "vdvs-version '' is not a release name"),
        (("a\nb", "1-2"), "vdvs-version 'a\\nb' is not a release name"),
        ((None, "1-2"), "vdvs-version is missing"),
        (("x" * 65, "1-2"), "is not a release name"),
    ],
)
def test_unreadable_metadata_names_the_key_and_value(values: tuple[str | None, ...], problem: str) -> None:
    with pytest.raises(BadMetadata) as info:
        parse(*values)
    assert problem in str(info.value)


def test_judged_answers_a_repeated_value_from_what_it_kept() -> None:
    judged = Judged(BROKER_2)
    first = judged.of_pairs([("user-agent", "grpc"), ("vdvs-version", "0.2.0"), ("vdvs-protocol", "1-2")])
    again = judged.of_pairs([("vdvs-protocol", "1-2"), ("vdvs-version", "0.2.0")])
    assert first is again and first.verdict is Verdict.OK
    unreadable = judged.of("0.2.0", "x")
    assert unreadable.peer is None and unreadable.verdict is None and "'x'" in unreadable.problem


def test_judged_stays_bounded_under_a_flood_of_distinct_values() -> None:
    judged = Judged(BROKER_2)
    for n in range(5000):
        judged.of(f"v{n}", "1-2")
    assert len(judged._kept) <= 1024


def test_broker_refusals_carry_their_codes_and_grpc_kind() -> None:
    judged = Judged(OWN)
    too_new = refusal(judged.of("0.9.0", "5-7"))
    too_old = refusal(judged.of("0.0.9", "0"))
    unreadable = refusal(judged.of("0.2.0", "two"))
    assert too_new is not None and too_old is not None and unreadable is not None
    assert (too_new.code, too_old.code, unreadable.code) == (861, 860, 862)
    assert too_new.kind is Kind.CONFLICT and too_old.kind is Kind.CONFLICT and unreadable.kind is Kind.INVALID
    assert too_new.message.endswith(": upgrade the broker") and too_old.message.endswith(": upgrade the plugin")
    assert refusal(judged.of(None, None)) is None  # 0.1.0 plugins are served


def test_the_plugins_own_codes_are_those_of_the_error_table() -> None:
    """The plugin does not import the table; its codes and names must still be the table's."""
    for code, name in [*BROKER_REFUSALS.values(), BROKER_UNREADABLE]:
        assert Err[name].code == code
    assert {e.code for e in Err if 860 <= e.code <= 869} == {860, 861, 862, 863, 864, 865}
    assert OLDEST_PROTOCOL <= PROTOCOL
