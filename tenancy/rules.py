"""Membership rules: the ``--match`` language, parsed, validated and matched with no I/O.

A rule puts every VM it matches into its vmgroup (vDVS #1226, ViPR's attribute mapping). Its
expression is one or more terms separated by commas, all of which must hold (AND)::

    name=GLOB           the VM's name: the backend's (vSphere), or the enrolled one (local)
    folder=GLOB         the VM's inventory folder path, /DC/vm/web (vSphere)
    attr:KEY=GLOB       the VM's vSphere custom attribute KEY
    label:KEY=GLOB      the VM's label KEY, given at `vdvs vm enroll --label KEY=VALUE` (any backend);
                        KEY is a label key as labels.py takes it

Every value is a shell glob (``*``, ``?``, ``[abc]``), matched case-sensitively against the
whole fact, so a value without wildcards must match exactly: ``folder=/DC/vm/web`` is that
folder, ``folder=/DC/vm/web/*`` the folders below it. Commas separate terms, not spaces,
because vSphere names, folders and attribute values often contain spaces; a value therefore
cannot contain a comma. Whitespace around a term is ignored.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import key_problem
from vdvs.tenancy.model import VmGroup

MAX_EXPR_LEN = 1024
MAX_PRIORITY = 1_000_000
# vSphere custom attribute names (vCenter's, not ours: spaces allowed); label keys are labels.py's
_ATTR_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _./-]{0,127}$")
SYNTAX = "name=GLOB, folder=PATH, attr:KEY=GLOB or label:KEY=GLOB, separated by commas"


class TermKind(enum.StrEnum):
    NAME = "name"
    FOLDER = "folder"
    ATTR = "attr"
    LABEL = "label"


KEYED = frozenset({TermKind.ATTR, TermKind.LABEL})
# what only the backend can say about a VM (its name too: on vSphere it is vCenter's, not the enrolled one)
BACKEND_KINDS = frozenset({TermKind.NAME, TermKind.FOLDER, TermKind.ATTR})


@dataclass(frozen=True)
class Term:
    kind: TermKind
    key: str  # the attribute or label key; "" for name and folder
    pattern: str

    @property
    def subject(self) -> str:
        """What the term looks at: ``name``, ``folder``, ``attr:team``, ``label:team``."""
        return f"{self.kind}:{self.key}" if self.key else str(self.kind)

    def __str__(self) -> str:
        return f"{self.subject}={self.pattern}"


@dataclass(frozen=True)
class MatchExpr:
    terms: tuple[Term, ...]

    @property
    def needs_backend(self) -> bool:
        """Whether matching needs the backend's view of the VM (not only its labels)."""
        return any(term.kind in BACKEND_KINDS for term in self.terms)

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms)


@dataclass(frozen=True)
class VmFacts:
    """What a rule is matched against. ``folder`` is "" where the backend has no folders (local)."""

    name: str
    folder: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def value(self, term: Term) -> str | None:
        """The fact ``term`` looks at; None when the VM has no such folder, attribute or label."""
        if term.kind is TermKind.NAME:
            return self.name
        if term.kind is TermKind.FOLDER:
            return self.folder or None
        source = self.attributes if term.kind is TermKind.ATTR else self.labels
        return source.get(term.key)

    def shown(self) -> list[str]:
        """The facts as terms would name them, for `vm explain`."""
        items = [f"name={self.name}"]
        if self.folder:
            items.append(f"folder={self.folder}")
        items += [f"attr:{k}={v}" for k, v in sorted(self.attributes.items())]
        items += [f"label:{k}={v}" for k, v in sorted(self.labels.items())]
        return items


@dataclass(frozen=True)
class TermFailure:
    """The first term of a rule that did not hold for a VM, and what the VM had instead."""

    term: Term
    seen: str | None  # None: the VM has no such fact

    def reason(self) -> str:
        if self.seen is None:
            what = {
                TermKind.NAME: "no name",
                TermKind.FOLDER: "no inventory folder (not a vSphere VM)",
                TermKind.ATTR: f"no custom attribute {self.term.key!r}",
                TermKind.LABEL: f"no label {self.term.key!r}",
            }[self.term.kind]
            return f"{self.term}: the VM has {what}"
        return f"{self.term}: {self.term.subject} is {self.seen!r}"


@dataclass(frozen=True)
class MembershipRule:
    """A rule as stored: which vmgroup its VMs join, its (canonical) expression, its priority."""

    id: int
    vmgroup: VmGroup
    expr: str
    priority: int
    created: str = ""

    @property
    def match(self) -> MatchExpr:
        return parse_expr(self.expr)


def _invalid(text: str, why: str) -> VdvsError:
    return VdvsError(Err.RULE_INVALID, text, why)


def _attr_key_problem(key: str) -> str | None:
    if _ATTR_KEY.fullmatch(key):
        return None
    return "a letter or digit, then letters, digits, spaces or _ . / - (at most 128)"


def _term(text: str, whole: str) -> Term:
    subject, eq, pattern = text.partition("=")
    if not eq:
        raise _invalid(whole, f"term {text!r} has no '=' (terms are {SYNTAX})")
    subject, pattern = subject.strip(), pattern.strip()
    kind_text, colon, key = subject.partition(":")
    try:
        kind = TermKind(kind_text.strip())
    except ValueError:
        raise _invalid(whole, f"unknown term {subject!r} (terms are {SYNTAX})") from None
    key = key.strip()
    if kind in KEYED:
        if not key:
            raise _invalid(whole, f"{kind} needs a key: {kind}:KEY=GLOB")
        problem = key_problem(key) if kind is TermKind.LABEL else _attr_key_problem(key)
        if problem is not None:
            raise _invalid(whole, f"{kind} key {key!r} is invalid: {problem}")
    elif colon:
        raise _invalid(whole, f"{kind} takes no key: {kind}=GLOB")
    if not pattern:
        raise _invalid(whole, f"term {subject}= has an empty value (use * for any value)")
    if kind is TermKind.FOLDER and not pattern.startswith(("/", "*")):
        raise _invalid(whole, f"folder {pattern!r} must be an inventory path such as /DC/vm/web")
    return Term(kind, key, pattern)


@functools.lru_cache(maxsize=1024)
def parse_expr(text: str) -> MatchExpr:
    """``--match`` text -> its terms; a one-line VdvsError (code 740) naming what is wrong."""
    if len(text) > MAX_EXPR_LEN:
        raise _invalid(text[:40] + "...", f"longer than {MAX_EXPR_LEN} characters")
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise _invalid(text, f"it is empty: give one or more of {SYNTAX}")
    if not all(parts):
        raise _invalid(text, "an empty term (two commas in a row, or one at an end)")
    return MatchExpr(tuple(_term(part, text) for part in parts))


def check_priority(priority: int) -> None:
    if not 0 <= priority <= MAX_PRIORITY:
        raise VdvsError(Err.RULE_PRIORITY_INVALID, priority, MAX_PRIORITY)


def first_failure(expr: MatchExpr, facts: VmFacts) -> TermFailure | None:
    """The first term that does not hold for the VM; None when the rule matches it."""
    for term in expr.terms:
        seen = facts.value(term)
        if seen is None or not fnmatch.fnmatchcase(seen, term.pattern):
            return TermFailure(term, seen)
    return None
