"""A password-protected snapshot's page for someone without access: the locked page (a password
form, no dashboard data) and the form's ``POST``, which sets the access cookie on a right
password and redirects (303) to the page.

CSRF: the access cookie is ``SameSite=Strict``, so no other site can make a browser use it; what
is left is another site posting this form for a visitor (to log them in, or to spend their
attempts). Two checks stop that: a browser's ``Origin`` (and ``Sec-Fetch-Site``) must name this
server, and the form must carry the signed nonce of the cookie that came with the page
(double submit, ``sharing.access``).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from ..abuse import checks as limits
from ..errors import Forbidden, InvalidSnapshot, PublishedElsewhere
from ..sharing.access import (
    CSRF_COOKIE,
    cookie_header,
    form_token,
    form_token_valid,
    new_form_nonce,
)
from ..sharing.gate import PASSWORD_CHALLENGE
from ..sharing.passwords import MAX_LENGTH
from ..webapp.appkeys import ACCESS, CONFIG, SERVICE
from ..webapp.request_body import read_body
from ..webapp.requests import identity_of
from ..webapp.responses import PRIVATE_NO_STORE
from .render import content_security_policy, render_locked_page

FORM_MAX_BYTES = 8 * 1024
FORM_COOKIE_AGE = 3600  # an hour to type the password; then the page is reloaded
STALE_FORM = "This form has expired or did not come from this server: reload the page"


def locked_page(request: web.Request, key: str, *, wrong: bool = False) -> web.Response:
    """401 with the password form for snapshot ``key``, a fresh CSRF nonce in its cookie."""
    gate = request.app[ACCESS]
    nonce = new_form_nonce()
    page = render_locked_page(token=form_token(gate.secret, key, nonce), wrong=wrong)
    response = web.Response(text=page, status=401, content_type="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(
        secrets.token_urlsafe(16), form_action="'self'"
    )
    response.headers["Cache-Control"] = PRIVATE_NO_STORE
    response.headers["WWW-Authenticate"] = PASSWORD_CHALLENGE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is the secret
    response.headers.add(
        "Set-Cookie",
        cookie_header(
            CSRF_COOKIE,
            nonce,
            path=gate.page_path(key),
            max_age=FORM_COOKIE_AGE,
            secure=gate.secure,
        ),
    )
    return response


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the form was posted from this server: ``Sec-Fetch-Site``
    (when sent) is ``same-origin``, and ``Origin`` (when sent) is the public root's or the
    request's own. ``Origin: null`` passes only beside ``Sec-Fetch-Site: same-origin``: the
    page's ``no-referrer`` policy makes browsers send ``null`` for its own form. A client that
    sends neither header is judged by the CSRF token alone."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None or (origin == "null" and site == "same-origin"):
        return True
    root = urlsplit(request.app[CONFIG].server.public_root)
    return origin in {f"{root.scheme}://{root.netloc}", f"{request.scheme}://{request.host}"}


async def unlock_page(request: web.Request) -> web.StreamResponse:
    """``POST /dashboard/snapshot/{key}`` with ``password`` and ``csrf`` (form-encoded)."""
    service = request.app[SERVICE]
    gate = request.app[ACCESS]
    key = request.match_info.get("key", "")
    identity = identity_of(request)
    service.authorize_view(identity)
    if not same_origin(request):
        raise Forbidden(STALE_FORM)
    wait = request.app[CONFIG].limits.body_timeout
    form = parse_qs(
        (await read_body(request, FORM_MAX_BYTES, within=wait)).decode("utf-8", "replace")
    )
    token = form.get("csrf", [""])[0]
    password = form.get("password", [""])[0]
    if not form_token_valid(gate.secret, key, token, request.cookies.get(CSRF_COOKIE)):
        raise Forbidden(STALE_FORM)
    if len(password) > MAX_LENGTH:
        raise InvalidSnapshot("The password is too long")
    try:
        snapshot = await limits.lookup(request, lambda: service.view(identity, key))
    except PublishedElsewhere:
        raise web.HTTPSeeOther(gate.page_path(key)) from None  # the page says where it is
    meta = snapshot.meta
    if meta.password_hash and not await gate.try_password(request, meta, password):
        return locked_page(request, key, wrong=True)
    response = web.Response(status=303, headers={"Location": gate.page_path(key)})
    response.headers["Cache-Control"] = PRIVATE_NO_STORE
    # Only a right password earns a cookie: the cookie is not bound to the password, so one
    # handed out while there was none would open the snapshot once a password is set again.
    for cookie in gate.grant(meta, key) if meta.password_hash else ():
        response.headers.add("Set-Cookie", cookie)
    return response
