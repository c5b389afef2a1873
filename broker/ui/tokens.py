"""Signed, expiring tokens for the dashboard: one-time sign-in links and session cookies.

HMAC-SHA256 over a secret of this broker's, kept beside its CA (``ui.secret``, 0600) so sessions
outlive a restart. A token is ``<payload>.<mac>``, both base64url; the payload is JSON naming its
purpose, so a link cannot serve as a cookie or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

SECRET_FILE = "ui.secret"  # noqa: S105  (a file name)
SECRET_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(pki_dir: Path) -> bytes:
    """This broker's dashboard secret, made (0600, never overwritten) on first use."""
    path = pki_dir / SECRET_FILE
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
    secret = path.read_bytes()
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path} holds {len(secret)} bytes, not a dashboard secret: remove it to make a new one")
    return secret


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, expires: float, **claims: str) -> str:
        body = _b64(json.dumps({"p": purpose, "exp": expires, **claims}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: str, now: float) -> dict[str, Any] | None:
        """The claims of a token this broker signed for ``purpose`` and not yet expired; else None."""
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            claims = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, dict) or claims.get("p") != purpose:
            return None
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= now:
            return None
        return claims
