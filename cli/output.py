"""Output for people (vDVS-style tables, `Key: value` lines) and for scripts (--json)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import click


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """vDVS cli_table: header row, a dashes row, columns two spaces apart, as wide as their longest cell."""
    return column_table(headers, [list(column) for column in zip(*rows, strict=True)] or [[] for _ in headers])


def column_table(headers: Sequence[str], columns: Sequence[Sequence[str]]) -> str:
    """table(), given the cells column by column: padding and joining run in C, not in a Python
    loop per cell, so ten thousand rows of `volume ls` print in milliseconds."""
    widths = [
        max(len(header), max(map(len, column), default=0)) for header, column in zip(headers, columns, strict=True)
    ]
    padded = [map(str.ljust, column, itertools.repeat(width)) for column, width in zip(columns, widths, strict=True)]
    lines = ["  ".join(map(str.ljust, headers, widths)).rstrip(), "  ".join("-" * width for width in widths)]
    lines += map(str.rstrip, map("  ".join, zip(*padded, strict=True)))
    return "\n".join(lines)


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False) if as_json else text)


def key_values(items: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"{k}: {v}" if v or not k.startswith("===") else f"{k}: " for k, v in items)
