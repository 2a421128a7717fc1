"""What a right password earns: a signed access cookie, and the viewer form's CSRF token.

Signed with HMAC-SHA256 of the stdlib (``hmac``): the cookie is one short value checked in
one place, so a library (itsdangerous) would add a dependency and a serialisation format for
what is three fields and a MAC. Every MAC is over a purpose label, so a CSRF token can never
pass as an access cookie or the reverse.

The access cookie's value is ``<id>.<expires>.<mac>``, the MAC over the snapshot's id, the view
key it was granted for and its expiry (the service clock's seconds): it opens that one snapshot
under that one key, until then. It is not bound to the password, so changing the password does
not sign anyone out; rotating the key does (the new key was never granted), which is how an
owner revokes access.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from http.cookies import Morsel

ACCESS_COOKIE = "snapshot_access"
CSRF_COOKIE = "snapshot_form"
SECRET_BYTES = 32


# The expiry as ``access_value`` writes it; a bound on its digits keeps int() cheap and safe.
_EXPIRES_RE = re.compile(r"[0-9]{1,15}")


def _same(expected: str, given: str) -> bool:
    """``hmac.compare_digest`` of ``expected`` (ASCII, made here) and ``given`` (the client's):
    compare_digest raises on str with non-ASCII characters, and a cookie's undecodable bytes
    arrive as surrogates, so anything not ASCII is simply not equal."""
    return given.isascii() and hmac.compare_digest(expected.encode(), given.encode())


def _mac(secret: bytes, *parts: str) -> str:
    digest = hmac.new(secret, "\0".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def access_value(secret: bytes, snapshot_id: int, key: str, expires: int) -> str:
    """The access cookie's value for snapshot ``snapshot_id`` under view key ``key``, valid
    until ``expires`` (POSIX seconds)."""
    return f"{snapshot_id}.{expires}.{_mac(secret, 'access', str(snapshot_id), key, str(expires))}"


def access_granted(
    secret: bytes, value: str | None, snapshot_id: int, key: str, now: float
) -> bool:
    """Whether ``value`` (a cookie's value, or ``None``) opens snapshot ``snapshot_id`` under
    ``key`` at ``now``: made by ``access_value`` with this secret for exactly these, and not
    expired. Anything malformed or tampered with is simply not a grant."""
    if not value:
        return False
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != str(snapshot_id) or not _EXPIRES_RE.fullmatch(parts[1]):
        return False
    expires = int(parts[1])
    expected = _mac(secret, "access", str(snapshot_id), key, parts[1])
    return _same(expected, parts[2]) and now < expires


def new_form_nonce() -> str:
    """A random nonce for one locked page: set as the CSRF cookie and echoed in its form."""
    return secrets.token_urlsafe(18)


def form_token(secret: bytes, key: str, nonce: str) -> str:
    """The form's hidden CSRF field: the page's nonce, signed for this key."""
    return f"{nonce}.{_mac(secret, 'form', key, nonce)}"


def form_token_valid(secret: bytes, key: str, token: str, cookie_nonce: str | None) -> bool:
    """Double submit, signed: the field must carry the nonce of the cookie this browser got
    with the page, with a MAC for this key. A page fetched by another site's server comes
    with another nonce, and another site cannot set a cookie here (SameSite=Strict, path)."""
    nonce, _, mac = token.partition(".")
    if not nonce or not mac or not cookie_nonce:
        return False
    return _same(nonce, cookie_nonce) and _same(_mac(secret, "form", key, nonce), mac)


def cookie_header(name: str, value: str, *, path: str, max_age: int, secure: bool) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, scoped to ``path``, ``Secure`` when
    the public address is https."""
    morsel: Morsel[str] = Morsel()
    morsel.set(name, value, value)
    morsel["path"] = path
    morsel["max-age"] = str(max_age)
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()
