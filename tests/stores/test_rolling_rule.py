"""The rule that lets brokers of 0.1.0 keep serving while a newer broker migrates their store: every
migration since 0.1.0's schema is additive (tenancy/rolling.py, docs/upgrade.md)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.rolling import OLDEST_MIXED_SCHEMA, non_additive
from vdvs.tenancy.schema import MIGRATIONS


@pytest.mark.parametrize("number", range(OLDEST_MIXED_SCHEMA + 1, len(MIGRATIONS) + 1))
def test_every_migration_since_0_1_0_is_one_an_old_broker_can_live_with(number: int) -> None:
    assert non_additive(MIGRATIONS[number - 1]) == [], f"migration {number} breaks docs/upgrade.md's rule"


def test_the_migrations_0_1_0_itself_made_pass_the_rule_too() -> None:
    """(Until issue 14's migrations land, the test above has no case: this one shows the rule on real ones.)"""
    assert [n for n, script in enumerate(MIGRATIONS[:OLDEST_MIXED_SCHEMA], 1) if non_additive(script)] == []


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE volumes DROP COLUMN device",
        "ALTER TABLE volumes RENAME COLUMN device TO hint",
        "ALTER TABLE volumes ADD COLUMN policy TEXT NOT NULL",
        "CREATE UNIQUE INDEX volumes_name ON volumes(name)",
        "UPDATE volumes SET state = 'ready'",
        "INSERT INTO vmgroups VALUES ('x', 'y', '', '')",
        "DROP TABLE usage_samples",
    ],
)
def test_what_an_old_broker_could_trip_over_is_named(statement: str) -> None:
    assert non_additive(f"CREATE TABLE snapshots (id TEXT);\n    {statement};\n") == [statement]


def test_new_tables_columns_with_defaults_and_their_rows_are_additive() -> None:
    script = """
        CREATE TABLE policies (id {serial_pk}, name TEXT NOT NULL);
        CREATE INDEX policies_name ON policies(name);
        INSERT INTO policies (name) VALUES ('gold');
        ALTER TABLE volumes ADD COLUMN policy_id {int};
        ALTER TABLE vmgroups ADD COLUMN policy TEXT NOT NULL DEFAULT '';
    """
    assert non_additive(script) == []
