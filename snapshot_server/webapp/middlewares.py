"""The middleware: the bearer token becomes an Identity, and errors become answers.

One middleware for both (each layer of aiohttp's chain costs a call and a coroutine on every
request, a measurable part of a cached GET); the identity is resolved inside it, so a bad token
is answered like every other error.

``/api/...`` routes always answer JSON ``{"message": ...}``, never an HTML page or a traceback.
Everything else answers people: errors there are shown by ``app[PAGE_ERRORS]``, which the
viewer registers (this module never imports HTML rendering); without it they are JSON too.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import PasswordRequired, SnapshotError, StorageUnavailable, TooManyPasswords
from ..sharing.gate import PASSWORD_CHALLENGE
from .appkeys import AUTHENTICATOR, IDENTITY, METRICS, PAGE_ERRORS
from .requests import is_api, route_template
from .responses import NO_STORE, PRIVATE_NO_STORE, json_response

log = logging.getLogger(__name__)

# Routes that ignore the Authorization header entirely (as Grafana's health check does; the
# OpenAPI document is the same for everyone).
UNAUTHENTICATED_PATHS = frozenset(
    {"/api/health", "/api/health/", "/api/openapi.json", "/api/openapi.json/", "/metrics"}
)

_HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resolve_identity(request)
        return await handler(request)
    except SnapshotError as exc:
        if isinstance(exc, StorageUnavailable):
            request.app[METRICS].count_storage_error(route_template(request))
        cause = exc.__cause__
        if exc.status >= 500 and cause is not None and not isinstance(cause, SnapshotError):
            # A driver error behind a 503: the operator needs it (the client gets the message).
            log.warning(
                "%s %s: %s", request.method, route_template(request), exc.message, exc_info=cause
            )
        response = error_response(request, exc.status, exc.message)
        if isinstance(exc, PasswordRequired | TooManyPasswords):
            # About a protected snapshot: no cache anywhere keeps it, and the challenge is the
            # snapshot's password, not the Bearer token.
            response.headers["Cache-Control"] = PRIVATE_NO_STORE
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = PASSWORD_CHALLENGE
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(request, exc.status, _HTTP_MESSAGES.get(exc.status, exc.reason))
        if "Allow" in exc.headers:  # a 405 must say which methods the resource has
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, route_template(request))
        return error_response(request, 500, "Internal server error")


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    """JSON ``{"message"}`` for the API; for everything a person opens, the page the viewer
    registered. Never stored by a cache."""
    page = None if is_api(request) else request.app.get(PAGE_ERRORS)
    if page is None:
        response = json_response({"message": message}, status=status)
    else:
        response = page(status, message)
    response.headers["Cache-Control"] = NO_STORE
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def resolve_identity(request: web.Request) -> None:
    """Resolve the caller once. A bad token is 401 everywhere but the unauthenticated paths,
    even on routes that need no token: a broken client learns it at once."""
    if request.path in UNAUTHENTICATED_PATHS:
        return
    request[IDENTITY] = request.app[AUTHENTICATOR].identify(request.headers.get("Authorization"))
