"""vSAN storage-policy text (``(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))``): the one parser.

vDVS kept a policy as this text and handed it to vSAN, which refused what it could not read with
"Invalid policy string" at the first create that used it. Here the text is read when the policy is
created or updated, so a typo is refused then, in one line naming the rule or the character that is
wrong. The text itself is what is stored and what vSphere gets (as the profile's raw data).

Grammar: ``( rule+ )``; a rule is ``( "capability" value )``; a value is an integer with its type
letter (``i1``, ``l100``) or a quoted string. The capabilities are vSAN's own (VSAN.* in the SPBM
capability catalogue), each with the range vSAN accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError

# capability -> (lowest, highest) for integer ones; None for string ones
CAPABILITIES: Mapping[str, tuple[int, int] | None] = {
    "hostFailuresToTolerate": (0, 3),
    "stripeWidth": (1, 12),
    "forceProvisioning": (0, 1),
    "proportionalCapacity": (0, 100),
    "cacheReservation": (0, 1_000_000),
    "checksumDisabled": (0, 1),
    "iopsLimit": (0, 2_147_483_647),
    "subFailuresToTolerate": (0, 3),
    "replicaPreference": None,
    "locality": None,
}

_TOKEN = re.compile(r'(?P<open>\()|(?P<close>\))|"(?P<string>[^"]*)"|(?P<number>[il]-?\d+)(?![\w"])')


@dataclass(frozen=True)
class PolicyRule:
    capability: str
    value: int | str


def _invalid(reason: str) -> VdvsError:
    return VdvsError(Err.POLICY_INVALID, reason)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) of every token; an unreadable character is named with its position."""
    found: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return found
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _invalid(f"unexpected {text[pos : pos + 12]!r} at character {pos + 1}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()


def parse_policy(text: str) -> tuple[PolicyRule, ...]:
    """The rules of a policy text; VdvsError(POLICY_INVALID) naming what is wrong."""
    tokens = _tokens(text)
    if not tokens:
        raise _invalid("the policy is empty")
    opened, closed = (sum(1 for kind, _, _ in tokens if kind == k) for k in ("open", "close"))
    if opened != closed:
        raise _invalid(f"the parentheses do not match ({opened} opened, {closed} closed)")
    if tokens[0][0] != "open" or tokens[-1][0] != "close":
        raise _invalid('a policy is a list of rules in parentheses: (("hostFailuresToTolerate" i1))')
    body = tokens[1:-1]
    if not body:
        raise _invalid("the policy has no rule")
    rules: list[PolicyRule] = []
    for start in range(0, len(body), 4):
        rule = body[start : start + 4]
        shape = tuple(kind for kind, _, _ in rule)
        if shape not in (("open", "string", "number", "close"), ("open", "string", "string", "close")):
            where = rule[0][2] + 1 if rule else len(text)
            raise _invalid(f'a rule is ("capability" value), as ("hostFailuresToTolerate" i1) (at character {where})')
        rules.append(_rule(rule[1][1], rule[2][0], rule[2][1]))
    names = [r.capability for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise _invalid(f"capability {twice[0]} is given more than once")
    return tuple(rules)


def _rule(capability: str, kind: str, raw: str) -> PolicyRule:
    if capability not in CAPABILITIES:
        raise _invalid(f"unknown capability {capability!r} (known: {', '.join(CAPABILITIES)})")
    bounds = CAPABILITIES[capability]
    if bounds is None:
        if kind != "string":
            raise _invalid(f'{capability} takes a quoted text, as ("{capability}" "...")')
        return PolicyRule(capability, raw)
    if kind != "number":
        raise _invalid(f'{capability} takes a number, as ("{capability}" i{bounds[0]})')
    value = int(raw[1:])
    if not bounds[0] <= value <= bounds[1]:
        raise _invalid(f"{capability} must be from {bounds[0]} to {bounds[1]}, not {value}")
    return PolicyRule(capability, value)
