"""Which vdvs versions may share one config store during a rolling upgrade (docs/upgrade.md says it for operators).

A broker migrates an older store when it starts and refuses to start on a newer one. A broker that was
already running when another migrated the store keeps serving from it, with SQL written for its own
schema: that works only while every migration since the oldest release still allowed to run is
*additive*: new tables, new indexes that enforce nothing, new columns an old INSERT may leave out
(nullable, or with a default), and rows only into tables the same migration creates. ``non_additive``
names what breaks that rule; a test holds every migration since ``OLDEST_MIXED_SCHEMA`` to it.
"""

from __future__ import annotations

import re

# The schema each released vdvs wrote, for the upgrade tests and docs/upgrade.md.
RELEASED_SCHEMAS = {"0.1.0": 7}
# Brokers of this schema (0.1.0) or newer may keep running while a newer broker migrates the store.
OLDEST_MIXED_SCHEMA = RELEASED_SCHEMAS["0.1.0"]

_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)", re.IGNORECASE)
_ADD_COLUMN = re.compile(r"ALTER TABLE \w+ ADD COLUMN \w+(.*)", re.IGNORECASE)
_INSERT = re.compile(r"INSERT INTO (\w+)", re.IGNORECASE)


def non_additive(script: str) -> list[str]:
    """The statements of one migration an older broker running on the migrated store could trip over."""
    created = {name.lower() for name in _CREATE_TABLE.findall(script)}
    refused = []
    for raw in script.split(";"):
        statement = " ".join(raw.split())
        upper = statement.upper()
        if not statement or upper.startswith(("CREATE TABLE ", "CREATE INDEX ")):
            continue
        column = _ADD_COLUMN.fullmatch(statement)
        if column is not None:
            rest = column.group(1).upper()
            if "NOT NULL" not in rest or "DEFAULT" in rest:
                continue
        insert = _INSERT.match(statement)
        if insert is not None and insert.group(1).lower() in created:
            continue
        refused.append(statement)
    return refused
