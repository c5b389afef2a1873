"""Store part: join tokens (hashed secrets, uses taken atomically) and certificates revoked after a grace."""

from __future__ import annotations

import time
from typing import Any

from vdvs.tenancy.join_tokens import JoinToken, refusal
from vdvs.tenancy.store_base import StoreBase

_COLUMNS = "id, secret_sha256, vmgroup_id, max_uses, uses_left, expires, created, created_by"


def _token(row: Any) -> JoinToken:
    return JoinToken(
        str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), float(row[5]), float(row[6]), str(row[7])
    )


class TokenRows(StoreBase):
    def add_join_token(self, token: JoinToken) -> None:
        with self._tx() as db:
            db.execute(
                f"INSERT INTO join_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.secret_sha256,
                    token.vmgroup_id,
                    token.max_uses,
                    token.uses_left,
                    token.expires,
                    token.created,
                    token.created_by,
                ),
            )

    def join_token(self, token_id: str) -> JoinToken | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM join_tokens WHERE id = ?", (token_id,)).fetchone()
        return _token(row) if row is not None else None

    def join_tokens(self) -> list[JoinToken]:
        return [_token(r) for r in self._db.execute(f"SELECT {_COLUMNS} FROM join_tokens ORDER BY created, id")]

    def remove_join_token(self, token_id: str) -> JoinToken | None:
        with self._tx() as db:
            row = db.execute(f"DELETE FROM join_tokens WHERE id = ? RETURNING {_COLUMNS}", (token_id,)).fetchone()
        return _token(row) if row is not None else None

    def take_join_token_use(self, token_id: str, hashed: str, now: float | None = None) -> JoinToken:
        """Take one use of a token, in one conditional UPDATE (inside the caller's transaction, if any):
        of N concurrent joins with one use left, exactly one gets it. Raise why it cannot."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "UPDATE join_tokens SET uses_left = uses_left - 1 "
                f"WHERE id = ? AND secret_sha256 = ? AND uses_left > 0 AND expires > ? RETURNING {_COLUMNS}",
                (token_id, hashed, now),
            ).fetchone()
            if row is None:
                raise refusal(self.join_token(token_id), token_id, hashed, now)
        return _token(row)

    # ------------------------------------------------------------------ renewal
    def revoke_cert_at(self, serial: str, at: float) -> None:
        """Revoke ``serial`` at ``at`` (a renewed certificate's predecessor, after its grace)."""
        with self._tx() as db:
            db.execute("UPDATE certs SET revoke_at = ? WHERE serial = ? AND revoked = 0", (at, serial))

    def revoke_due_certs(self, now: float | None = None) -> list[str]:
        """Revoke the certificates whose grace has passed; the serials revoked."""
        now = time.time() if now is None else now
        with self._tx() as db:
            rows = db.execute(
                "UPDATE certs SET revoked = 1 WHERE revoked = 0 AND revoke_at IS NOT NULL AND revoke_at <= ? "
                "RETURNING serial",
                (now,),
            ).fetchall()
            if rows:
                self.bump()
        return sorted(str(r[0]) for r in rows)
