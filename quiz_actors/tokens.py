"""Session tokens: opaque to clients, signed by the server, one user id each.

A token is ``<user_id>.<issued_ms>.<signature>`` in URL-safe base64, signed with
HMAC-SHA256 under the store's ``ServerSecret``. Presenting it again proves the
user id; changing any part of it breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid


class TokenSigner:
    def __init__(self, secret: bytes, max_age_ms: int):
        self._secret = secret
        self._max_age_ms = max_age_ms

    @staticmethod
    def new_secret() -> str:
        return secrets.token_hex(32)

    def issue(self, user_id: str, now_ms: int) -> str:
        body = f"{user_id}.{now_ms}"
        return _b64(body.encode()) + "." + _b64(self._sign(body))

    def verify(self, token: str, now_ms: int) -> str | None:
        """The token's user id, or None if it is forged, malformed or expired."""
        try:
            body_part, signature_part = token.split(".")
            body = _unb64(body_part).decode()
            signature = _unb64(signature_part)
            user_id, issued = body.rsplit(".", 1)
            issued_ms = int(issued)
            uuid.UUID(user_id)
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        if now_ms - issued_ms > self._max_age_ms:
            return None
        return user_id

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


class SeatSigner:
    """A member's seat: proof that a user was let into the room with a code.

    ``state`` hands each member its seat (``you.seat``) and a client sends it back
    with ``join``. The hub reads it before anything else, the same way whatever the
    code, so a member comes back even while its address is refused newcomers (a
    code-guessing lockout, actors/join_guard.py), on any node of a cluster (the
    secret is shared), and a guesser learns nothing about which codes are live. A
    seat lets its holder past the address's lockout and its join rate (its own
    budget applies instead), nothing more: the room's own rules (kicked, locked,
    full) still apply, and a holder that is not a member (it left) is counted as a
    newcomer after all. Bound to the code, not the room: a code used again by a
    later room still lets its old seats past the lockout, into a room that then
    treats them as any newcomer.
    """

    def __init__(self, secret: bytes):
        # Its own key, so that no seat can ever be read as a token's signature.
        self._key = hmac.new(secret, b"quiz-actors seats", hashlib.sha256).digest()

    def seat(self, code: str, user_id: str) -> str:
        return _b64(hmac.new(self._key, f"{code}.{user_id}".encode(), hashlib.sha256).digest()[:16])

    def holds(self, seat: object, code: str, user_id: str) -> bool:
        return isinstance(seat, str) and hmac.compare_digest(seat.encode(), self.seat(code, user_id).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
