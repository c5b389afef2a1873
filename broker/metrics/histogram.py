"""A labelled histogram for the VM path: cheap to observe, cheap to expose.

One child per label tuple, made on first use with its exposition lines' label text (so a scrape
appends numbers to strings made once). Observing is a bisect and two additions, with no lock: each
histogram is observed by one thread only (the event loop's, or the store thread's). A scrape, on
another thread, copies a child's bucket counts in one step (a list copy does not let go of the GIL)
and derives ``_count`` from that copy, so a scrape never shows a count that disagrees with its
buckets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from vdvs.broker.metrics.text import header, label_text, number


class HistogramChild:
    __slots__ = ("_bounds", "bucket_lines", "count_line", "counts", "sum", "sum_line")

    def __init__(self, name: str, labels: str, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, the last one past every bound (+Inf)
        self.sum = 0.0
        sep = "," if labels else ""
        les = [number(b) for b in bounds] + ["+Inf"]
        self.bucket_lines = [f'{name}_bucket{{{labels}{sep}le="{le}"}} ' for le in les]
        braces = f"{{{labels}}}" if labels else ""
        self.count_line = f"{name}_count{braces} "
        self.sum_line = f"{name}_sum{braces} "

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self._bounds, value)] += 1  # le: a value on a bound is in that bucket
        self.sum += value


class LabelledHistogram:
    def __init__(self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        """The child for these label values (made on first use; the caller keeps it)."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, not {values}")
            child = HistogramChild(self.name, label_text(self.labelnames, values), self.bounds)
            self._children[values] = child
        return child

    def snapshot(self) -> list[tuple[tuple[str, ...], list[int], float]]:
        """(label values, bucket counts (not cumulative, +Inf last), sum) of each child, from any thread."""
        return [(values, child.counts.copy(), child.sum) for values, child in list(self._children.items())]

    def render(self) -> Iterator[str]:
        """The family's exposition lines (from any thread)."""
        yield header(self.name, self.doc, "histogram")
        for child in list(self._children.values()):
            counts, total = child.counts.copy(), child.sum
            cumulative = 0
            for line, count in zip(child.bucket_lines, counts, strict=True):
                cumulative += count
                yield f"{line}{cumulative}\n"
            yield f"{child.count_line}{cumulative}\n"
            yield f"{child.sum_line}{number(total)}\n"
