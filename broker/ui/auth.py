"""Who is looking at the dashboard: an admin certificate the browser presents, or a session cookie
opened by a one-time link from `vdvs ui link`.

A certificate is checked exactly as the admin TCP transport checks it (``AdminCallers``: issued by
this broker, not revoked, not expired, its access by its grants). A link names an admin certificate
(its id and serial) or root; it works once, within its minutes, and only on the broker run that
issued it (its ``boot``): the used links are remembered in memory, so a restart voids the ones
still out rather than let them be used again. Its session cookie names the same certificate and is
checked again on every request: revoking the admin ends the session.
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass

from vdvs.broker.admin_guard import AdminCallers
from vdvs.broker.ui.tokens import Signer
from vdvs.tenancy.admins import ROOT
from vdvs.tenancy.errors import VdvsError
from vdvs.tenancy.roles import ROOT_ACCESS, AdminAccess

LINK = "link"
SESSION = "session"
COOKIE = "vdvs_ui"
SESSION_S = 8 * 3600.0
MAX_LINK_MINUTES = 24 * 60


@dataclass(frozen=True)
class Subject:
    """The admin certificate a link or session stands for (root: ``ROOT`` and no serial)."""

    admin_id: str
    serial: str = ""


@dataclass(frozen=True)
class Viewer:
    """A signed-in dashboard user: how it is called on the pages, and what it sees."""

    name: str
    access: AdminAccess
    how: str  # "certificate" or "link"


class Links:
    """One-time sign-in links and the sessions they open."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._boot = secrets.token_urlsafe(9)
        self._used: dict[str, float] = {}  # link id -> its expiry (forgotten once past it)

    def issue(self, subject: Subject, minutes: int, now: float) -> tuple[str, float]:
        """A link token for ``subject`` valid ``minutes`` from ``now``, and its expiry."""
        expires = now + 60.0 * minutes
        jti = secrets.token_urlsafe(12)
        token = self._signer.sign(LINK, expires, sub=subject.admin_id, ser=subject.serial, jti=jti, boot=self._boot)
        return token, expires

    def redeem(self, token: str, now: float) -> Subject | None:
        """The subject of a good, unused link (now used up); None for any other text."""
        claims = self._signer.verify(token, LINK, now)
        if claims is None or claims.get("boot") != self._boot:
            return None
        jti = str(claims.get("jti", ""))
        self._used = {k: v for k, v in self._used.items() if v > now}
        if not jti or jti in self._used:
            return None
        self._used[jti] = float(claims["exp"])
        return Subject(str(claims.get("sub", "")), str(claims.get("ser", "")))

    def session(self, subject: Subject, now: float) -> str:
        return self._signer.sign(SESSION, now + SESSION_S, sub=subject.admin_id, ser=subject.serial)

    def from_cookie(self, cookie: str, now: float) -> Subject | None:
        claims = self._signer.verify(cookie, SESSION, now)
        return None if claims is None else Subject(str(claims.get("sub", "")), str(claims.get("ser", "")))


async def viewer_of_certificate(callers: AdminCallers, ssl_object: ssl.SSLObject | None) -> Viewer | None:
    """The admin whose certificate the browser presented (verified by the handshake); None: none, or refused."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    try:
        admin_id, access = await callers.from_certificate({"x509_pem_cert": [pem]})
    except VdvsError:
        return None
    return Viewer(access.principal or admin_id, access, "certificate")


async def viewer_of_subject(callers: AdminCallers, subject: Subject) -> Viewer | None:
    """The admin a session stands for, if its certificate is still good; root is the platform admin."""
    if subject.admin_id == ROOT and not subject.serial:
        return Viewer(ROOT, ROOT_ACCESS, "link")
    try:
        admin_id, access = await callers.from_serial(subject.admin_id, subject.serial)
    except VdvsError:
        return None
    return Viewer(access.principal or admin_id, access, "link")
