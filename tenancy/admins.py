"""Admin principals: who may call AdminService besides root on the admin socket.

An admin holds a client certificate of the broker's CA whose SAN is
``urn:vdvs:admin:<id>``; the ``admins`` row of that id says who it is and which
principals it acts as:

- ``admin:<name>``: an admin enrolled with `vdvs admin enroll NAME` (kind ``cert``);
- ``ldap-user:<dn>`` and ``ldap-group:<dn>`` of each of its groups: a user who logged in with
  `vdvs login` against the directory (kind ``ldap``, a certificate of hours, not a year).

Root on the admin socket is the platform admin (principal ``root``). Grants name principals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ROOT = "root"
KIND_CERT = "cert"
KIND_LDAP = "ldap"


def admin_principal(name: str) -> str:
    return f"admin:{name}"


def canonical_dn(dn: str) -> str:
    """A DN as principals hold it: LDAP compares DNs without case and without the spaces around
    separators, so ``CN=Team A, OU=Groups`` granted by an admin is the ``cn=team a,ou=groups`` the
    directory returns. A text that does not parse as a DN is only trimmed and lowered."""
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        parts = parse_dn(dn.strip(), escape=False, strip=True)
    except LDAPInvalidDnError:
        return dn.strip().lower()
    return ",".join(f"{attr.strip()}={value.strip()}" for attr, value, _sep in parts).lower()


def ldap_user_principal(dn: str) -> str:
    return f"ldap-user:{canonical_dn(dn)}"


def ldap_group_principal(dn: str) -> str:
    return f"ldap-group:{canonical_dn(dn)}"


@dataclass(frozen=True)
class AdminRecord:
    id: str  # in the certificate's SAN
    name: str  # the enrolled name, or the directory login
    kind: str  # KIND_CERT | KIND_LDAP
    principals: tuple[str, ...]
    serial: str
    not_after: str  # ISO 8601 UTC
    issued_at: str
    revoked: bool = False

    def principals_json(self) -> str:
        return json.dumps(list(self.principals))
