"""Loaded at interpreter start when this folder is on PYTHONPATH (the rolling-upgrade test's brokers).

``VDVS_TEST_SCHEMA=v1`` makes this vdvs know only 0.1.0's migrations (an old broker: it refuses a newer
store, as 0.1.0 does); ``next`` adds one additive migration after HEAD's (the next release's broker, which
migrates the store when it starts). It runs before any vdvs module has read the schema.
"""

import os

_WHICH = os.environ.get("VDVS_TEST_SCHEMA", "")
NEXT_MIGRATION = """
    ALTER TABLE volumes ADD COLUMN upgrade_note TEXT;
    CREATE TABLE upgrade_notes (id TEXT PRIMARY KEY, note TEXT NOT NULL DEFAULT '');
    CREATE INDEX upgrade_notes_note ON upgrade_notes(note)
"""

if _WHICH:
    from vdvs.tenancy import rolling, schema

    if _WHICH == "v1":
        schema.MIGRATIONS = schema.MIGRATIONS[: rolling.OLDEST_MIXED_SCHEMA]
    elif _WHICH == "next":
        schema.MIGRATIONS = (*schema.MIGRATIONS, NEXT_MIGRATION)
    schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
