"""Who is calling: bearer tokens from config resolved to an ``Identity``.

Only SHA-256 digests of tokens are kept. A presented token is hashed and compared against every
configured digest with ``hmac.compare_digest``, visiting all of them, so the time taken does not
depend on which (if any) matched.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from .config import TokenConfig
from .errors import Unauthorized
from .models import hash_secret


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller. ``anonymous`` callers have no scopes of their own."""

    org_id: int
    user_id: int
    role: str
    scopes: frozenset[str]
    name: str = ""
    anonymous: bool = False

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.role == "Admin" and not self.anonymous


ANONYMOUS = Identity(org_id=1, user_id=0, role="", scopes=frozenset(), anonymous=True)
"""A request without a token. In ``public_mode`` it creates as org 1, user 0, as Grafana's
anonymous publisher does."""


class TokenAuthenticator:
    def __init__(self, tokens: tuple[TokenConfig, ...]) -> None:
        self._tokens = tokens

    def identify(self, authorization: str | None) -> Identity:
        """The identity for an ``Authorization`` header value (``None``: no header).

        Returns ``ANONYMOUS`` without a header. Raises ``Unauthorized`` for anything but
        ``Bearer <known token>``: a malformed header is never treated as anonymous.
        """
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized()
        digest = hash_secret(token).encode()
        found: TokenConfig | None = None
        for candidate in self._tokens:
            if hmac.compare_digest(digest, candidate.token_sha256.encode()):
                found = candidate
        if found is None:
            raise Unauthorized()
        return Identity(
            org_id=found.org_id,
            user_id=found.user_id,
            role=found.role,
            scopes=found.scopes,
            name=found.name,
        )
