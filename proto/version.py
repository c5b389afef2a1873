"""The one place vdvs's version lives: the package (pyproject reads it), the CLI, the broker and the plugin
all take it from here, and so does what they tell each other on the wire."""

from __future__ import annotations

VERSION = "0.2.0"
