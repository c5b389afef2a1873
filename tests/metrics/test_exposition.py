"""The exposition text the broker writes itself (broker/metrics/histogram.py, text.py), read back with
prometheus_client's own parser: bucket boundaries, cumulative counts, label escaping."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from vdvs.broker.metrics.histogram import LabelledHistogram


def parsed(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_buckets_are_cumulative_and_a_value_on_a_bound_is_in_that_bucket() -> None:
    histogram = LabelledHistogram("op_seconds", "Calls.", ["operation"], [0.01, 0.1, 1.0])
    child = histogram.labels("get")
    for seconds in (0.005, 0.01, 0.05, 0.1, 0.5, 30.0):
        child.observe(seconds)
    samples = parsed("".join(histogram.render()))
    buckets = {dict(labels)["le"]: value for (name, labels), value in samples.items() if name.endswith("_bucket")}
    assert buckets == {"0.01": 2, "0.1": 4, "1.0": 5, "+Inf": 6}
    assert samples[("op_seconds_count", frozenset({("operation", "get")}))] == 6
    assert samples[("op_seconds_sum", frozenset({("operation", "get")}))] == 30.665


def test_label_values_are_escaped() -> None:
    histogram = LabelledHistogram("op_seconds", "Calls.", ["vmgroup", "fault"], [1.0])
    odd = 'quote " back \\ new\nline'
    histogram.labels(odd, "").observe(0.5)
    samples = parsed("".join(histogram.render()))
    assert samples[("op_seconds_count", frozenset({("vmgroup", odd), ("fault", "")}))] == 1


def test_a_family_without_children_is_only_its_header() -> None:
    histogram = LabelledHistogram("op_seconds", "Calls.", ["operation"], [1.0])
    assert "".join(histogram.render()) == "# HELP op_seconds Calls.\n# TYPE op_seconds histogram\n"
