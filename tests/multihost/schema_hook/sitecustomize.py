"""Loaded at interpreter start when this folder is on PYTHONPATH (the rolling-upgrade test's brokers).

``VDVS_TEST_SCHEMA=this`` leaves this vdvs as it is (the older broker of a rolling upgrade: it refuses a
newer store at start, as every release does); ``next`` adds one additive migration after HEAD's (the next
release's broker, which migrates the store when it starts). It runs before any vdvs module has read the
schema. (0.1.0 itself is run as 0.1.0's own code where a test needs it: testkit/release_v1.py; this tree's
code can no longer read 0.1.0's schema, so it cannot stand in for it.)
"""

import os

_WHICH = os.environ.get("VDVS_TEST_SCHEMA", "")
NEXT_MIGRATION = """
    ALTER TABLE volumes ADD COLUMN upgrade_note TEXT;
    CREATE TABLE upgrade_notes (id TEXT PRIMARY KEY, note TEXT NOT NULL DEFAULT '');
    CREATE INDEX upgrade_notes_note ON upgrade_notes(note)
"""

if _WHICH:
    from vdvs.tenancy import schema

    if _WHICH == "next":
        schema.MIGRATIONS = (*schema.MIGRATIONS, NEXT_MIGRATION)
    schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
