"""VM labels (``vdvs vm enroll NAME --label KEY=VALUE``): their syntax, checked once, here.

Labels are what `label:KEY=GLOB` membership rules match, on any backend. A key is a letter or
digit followed by letters, digits and ``_ . / -`` (at most 63, as Kubernetes label names); a value
may be empty, is at most 256 characters and has no comma (a rule's terms are separated by commas)
and no control character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vdvs.tenancy.errors import Err, VdvsError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$")
MAX_VALUE_LEN = 256


def parse_label(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (key, value); a one-line VdvsError (code 724) naming what is wrong."""
    key, eq, value = text.partition("=")
    if not eq:
        raise VdvsError(Err.LABEL_INVALID, text, "give it as KEY=VALUE")
    if not _KEY.fullmatch(key):
        raise VdvsError(
            Err.LABEL_INVALID, text, "the key must be a letter or digit, then letters, digits or _ . / - (at most 63)"
        )
    if len(value) > MAX_VALUE_LEN:
        raise VdvsError(Err.LABEL_INVALID, text, f"the value is longer than {MAX_VALUE_LEN} characters")
    if "," in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise VdvsError(Err.LABEL_INVALID, text, "the value may not contain a comma or a control character")
    return key, value


def parse_labels(texts: Sequence[str]) -> dict[str, str]:
    """Every ``KEY=VALUE`` given; one key given twice is refused."""
    labels: dict[str, str] = {}
    for text in texts:
        key, value = parse_label(text)
        if key in labels:
            raise VdvsError(Err.LABEL_INVALID, text, f"label {key} is given twice")
        labels[key] = value
    return labels
