"""Output for people (vDVS-style tables, `Key: value` lines) and for scripts (--json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """vDVS cli_table: header row, a dashes row, columns two spaces apart, as wide as their longest cell."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False) if as_json else text)


def key_values(items: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"{k}: {v}" if v or not k.startswith("===") else f"{k}: " for k, v in items)
