"""Who may see a protected snapshot: the holder of a valid access cookie, or a caller who sends
its password in ``X-Snapshot-Password`` (``Authorization`` keeps its meaning: the token).

A snapshot without a password passes without a look at either. Every password tried counts
against ``PasswordAttempts`` when wrong; the hash is verified off the event loop.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from .. import urls
from ..abuse.addresses import Network, client_address
from ..clock import Clock
from ..errors import PasswordRequired, TooManyPasswords, TooManyRequests
from ..models import SnapshotMeta
from .access import ACCESS_COOKIE, access_granted, access_value, cookie_header
from .attempts import PasswordAttempts
from .passwords import Passwords

PASSWORD_HEADER = "X-Snapshot-Password"  # noqa: S105 (a header name)
# The WWW-Authenticate of a 401 for a protected snapshot: its password, not the Bearer token.
PASSWORD_CHALLENGE = 'SnapshotPassword realm="snapshot"'  # noqa: S105 (a challenge)


class AccessGate:
    def __init__(
        self,
        *,
        secret: bytes,
        passwords: Passwords,
        attempts: PasswordAttempts,
        clock: Clock,
        root_url: str,
        cookie_max_age: int,
        trusted: tuple[Network, ...],
    ) -> None:
        self.secret = secret
        self.passwords = passwords
        self.attempts = attempts
        self._clock = clock
        self._root = root_url
        self._max_age = cookie_max_age
        self._trusted = trusted
        self.secure = root_url.startswith("https://")

    def has_access_cookie(self, request: web.Request, meta: SnapshotMeta, key: str) -> bool:
        """Whether ``request`` carries a cookie granting snapshot ``meta`` under the view key
        ``key`` (the one in the URL: during a rotation's grace, the old key's cookie still
        opens the old link)."""
        value = request.cookies.get(ACCESS_COOKIE)
        return access_granted(self.secret, value, meta.id, key, self._clock())

    async def require(self, request: web.Request, meta: SnapshotMeta, key: str) -> None:
        """Return if ``request`` may see ``meta`` (no password, a valid cookie, or the right
        ``X-Snapshot-Password``); raise ``PasswordRequired`` (401) otherwise, or
        ``TooManyPasswords`` (429) once too many wrong ones came from this address."""
        if not meta.password_hash or self.has_access_cookie(request, meta, key):
            return
        password = request.headers.get(PASSWORD_HEADER)
        if password is None or not await self.try_password(request, meta, password):
            raise PasswordRequired()

    async def try_password(self, request: web.Request, meta: SnapshotMeta, password: str) -> bool:
        """Whether ``password`` is ``meta``'s; a wrong one is counted. Raises
        ``TooManyPasswords`` when this address has no attempts left for this snapshot."""
        address = client_address(
            request.remote, request.headers.getall("X-Forwarded-For", []), self._trusted
        )
        async with self.attempts.turn(meta.id, address):
            try:
                await self.attempts.check(meta.id, address)
            except TooManyRequests as refused:
                raise TooManyPasswords(refused.message, retry_after=refused.retry_after) from None
            if await self.passwords.verify(meta.password_hash, password):
                return True
            await self.attempts.failed(meta.id, address)
            return False

    def grant(self, meta: SnapshotMeta, key: str) -> list[str]:
        """``Set-Cookie`` values granting ``meta`` under ``key`` for ``cookie_max_age``: one for
        the viewer page's path, one for the JSON's (each cookie goes to its path only)."""
        expires = int(self._clock()) + self._max_age
        value = access_value(self.secret, meta.id, key, expires)
        return [
            cookie_header(
                ACCESS_COOKIE, value, path=path, max_age=self._max_age, secure=self.secure
            )
            for path in (self.page_path(key), urlsplit(urls.api_url(self._root, key)).path)
        ]

    def page_path(self, key: str) -> str:
        """The viewer page's path as people see it (``root_url`` may carry a path prefix)."""
        return urlsplit(urls.view_url(self._root, key)).path
