"""Join tokens: what one is, how its text is made and read, and the limits on its uses and lifetime.

A token's text is ``<id>.<secret>``: the id (8 bytes, hex) names the row and is safe to show in
listings and audit records; the secret (32 random bytes, base64url) is shown once, at creation, and
the store keeps only its SHA-256. A token belongs to one vmgroup, allows ``max_uses`` joins and
expires ``ttl`` after creation (kubeadm's bootstrap tokens, with the secret hashed at rest).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from vdvs.tenancy.audit import parse_since
from vdvs.tenancy.errors import Err, VdvsError

DEFAULT_TTL = "1h"
MAX_TTL_S = 30 * 86400
MAX_TTL_TEXT = "30d"
MAX_USES = 10_000
_TEXT = re.compile(r"^([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class JoinToken:
    """One row of ``join_tokens`` (never its secret)."""

    id: str
    secret_sha256: str
    vmgroup_id: str
    max_uses: int
    uses_left: int
    expires: float  # epoch seconds
    created: float
    created_by: str = ""

    @property
    def used(self) -> int:
        return self.max_uses - self.uses_left

    def expires_text(self) -> str:
        return when(self.expires)


@dataclass(frozen=True)
class NewToken:
    token: JoinToken
    text: str  # id.secret: the only time the secret exists outside the joining VM


def when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(microsecond=0).isoformat()


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_ttl(text: str) -> float:
    """``--ttl 90s|15m|1h|7d`` -> seconds (at most 30 days)."""
    try:
        seconds = parse_since(text or DEFAULT_TTL)
    except VdvsError:
        raise VdvsError(Err.JOIN_TTL_INVALID, text, MAX_TTL_TEXT) from None
    if seconds > MAX_TTL_S:
        raise VdvsError(Err.JOIN_TTL_INVALID, text, MAX_TTL_TEXT)
    return seconds


def check_uses(uses: int) -> int:
    """``--uses N``: 0 (not given) is one use."""
    uses = uses or 1
    if not 1 <= uses <= MAX_USES:
        raise VdvsError(Err.JOIN_USES_INVALID, uses, MAX_USES)
    return uses


def new_token(vmgroup_id: str, uses: int, ttl_s: float, now: float, created_by: str) -> NewToken:
    token_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    row = JoinToken(token_id, secret_hash(secret), vmgroup_id, uses, uses, now + ttl_s, now, created_by)
    return NewToken(row, f"{token_id}.{secret}")


def parse_token(text: str) -> tuple[str, str]:
    """(id, secret hash) of a token's text; refused (naming nothing of it) when it is not one."""
    match = _TEXT.fullmatch(text.strip())
    if match is None:
        raise VdvsError(Err.JOIN_TOKEN_MALFORMED)
    return match.group(1), secret_hash(match.group(2))


def refusal(found: JoinToken | None, token_id: str, hashed: str, now: float) -> VdvsError:
    """Why a join with this token cannot take a use: unknown (or a wrong secret: told apart from
    nothing, so a guess learns nothing), expired, or used up."""
    if found is None or not hmac.compare_digest(found.secret_sha256, hashed):
        return VdvsError(Err.JOIN_TOKEN_UNKNOWN, token_id)
    if found.expires <= now:
        return VdvsError(Err.JOIN_TOKEN_EXPIRED, token_id, found.expires_text())
    return VdvsError(Err.JOIN_TOKEN_USED_UP, token_id, found.max_uses)


def usable(found: JoinToken | None, token_id: str, hashed: str, now: float) -> JoinToken:
    """The token, when a join may take a use of it now (checked again, atomically, when it does)."""
    matches = found is not None and hmac.compare_digest(found.secret_sha256, hashed)
    if found is not None and matches and found.expires > now and found.uses_left > 0:
        return found
    raise refusal(found, token_id, hashed, now)
