"""vmgroup labels and label selectors (Sveltos' clusterSelector, NSX's shared-into-projects by tag).

A label is ``key=value``; a selector is one or more ``key=value`` pairs, comma separated, all of
which a vmgroup's labels must carry for the selector to pick it. Grants and datastore shares may
name a selector instead of a vmgroup, and then cover every vmgroup whose labels match, those
created later included. A selector is kept in one canonical text (pairs sorted by key), so two
spellings of one selector are one grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from vdvs.tenancy.errors import Err, VdvsError

KEY_PATTERN = "[a-zA-Z0-9][a-zA-Z0-9_./-]*"
VALUE_PATTERN = "[a-zA-Z0-9][a-zA-Z0-9_.-]*"
MAX_LEN = 63
_KEY = re.compile(f"^{KEY_PATTERN}$")
_VALUE = re.compile(f"^{VALUE_PATTERN}$")

Labels = Mapping[str, str]


def key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as a label key (None: nothing). Membership rules' ``label:KEY``
    terms are checked with it too, so a term can only name a key a label can have."""
    if not key:
        return "the key is empty"
    if len(key) > MAX_LEN or not _KEY.fullmatch(key):
        return f"a key is {KEY_PATTERN}, at most {MAX_LEN} characters"
    return None


def _check_key(text: str, key: str) -> None:
    problem = key_problem(key)
    if problem is not None:
        raise VdvsError(Err.LABEL_INVALID, text, problem)


def _check_value(text: str, value: str) -> None:
    if len(value) > MAX_LEN or not _VALUE.fullmatch(value):
        raise VdvsError(Err.LABEL_INVALID, text, f"a value is {VALUE_PATTERN}, at most {MAX_LEN} characters")


def parse_label(text: str) -> tuple[str, str]:
    """``key=value`` -> (key, value); ``key=`` -> (key, '') (used by `vmgroup update` to remove a label)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise VdvsError(Err.LABEL_INVALID, text, "write it as key=value")
    key, value = key.strip(), value.strip()
    _check_key(text, key)
    if value:
        _check_value(text, value)
    return key, value


def parse_labels(texts: Iterable[str], *, removals: bool = False) -> dict[str, str]:
    """Repeated ``--label k=v`` -> {k: v}. With ``removals``, ``k=`` is kept as {k: ''} (remove k);
    without, an empty value is refused. A key given twice is refused."""
    labels: dict[str, str] = {}
    for text in texts:
        key, value = parse_label(text)
        if not value and not removals:
            raise VdvsError(Err.LABEL_INVALID, text, "the value is empty")
        if key in labels:
            raise VdvsError(Err.LABEL_INVALID, text, f"key {key} is given twice")
        labels[key] = value
    return labels


def updated_labels(current: Labels, changes: Labels) -> dict[str, str]:
    """``current`` with ``changes`` applied: a value sets its key, an empty value removes it."""
    result = dict(current)
    for key, value in changes.items():
        if value:
            result[key] = value
        else:
            result.pop(key, None)
    return result


def format_labels(labels: Labels) -> str:
    """Labels as shown and as a selector is kept: ``k=v`` pairs sorted by key, comma separated."""
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def parse_selector(text: str) -> str:
    """``k=v[,k=v]`` -> its canonical text (sorted, trimmed); refused if empty or malformed."""
    if not text.strip():
        raise VdvsError(Err.SELECTOR_INVALID, text, "it is empty")
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise VdvsError(Err.SELECTOR_INVALID, text, f"'{part}' is not key=value")
        try:
            _check_key(part, key)
            _check_value(part, value)
        except VdvsError as exc:
            raise VdvsError(Err.SELECTOR_INVALID, text, exc.params[1]) from None
        if key in pairs and pairs[key] != value:
            raise VdvsError(Err.SELECTOR_INVALID, text, f"key {key} is given twice")
        pairs[key] = value
    return format_labels(pairs)


def selector_pairs(selector: str) -> dict[str, str]:
    """The pairs of a canonical selector (as ``parse_selector`` returns it)."""
    return dict(part.split("=", 1) for part in selector.split(",")) if selector else {}


def matches(selector: str, labels: Labels) -> bool:
    """Whether a vmgroup carrying ``labels`` is picked by ``selector`` (every pair present)."""
    pairs = selector_pairs(selector)
    return bool(pairs) and all(labels.get(key) == value for key, value in pairs.items())
