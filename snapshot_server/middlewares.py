"""Middlewares: errors become JSON (API) or HTML (pages); the bearer token becomes an Identity.

``/api/...`` routes always answer JSON ``{"message": ...}``, never an HTML page or a traceback;
the viewer page answers people, so its errors are HTML.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import SnapshotError
from .http import NO_STORE, json_response, route_template
from .keys import AUTHENTICATOR, IDENTITY
from .viewer import content_security_policy, render_error_page

log = logging.getLogger(__name__)

# Routes that ignore the Authorization header entirely (SPEC §2).
UNAUTHENTICATED_PATHS = frozenset({"/api/health", "/api/health/", "/metrics"})

# What a person reading an error page is told beyond the status line.
_PAGE_EXPLANATIONS = {
    401: "This snapshot needs you to be signed in.",
    403: "You are not allowed to see this page.",
    404: "This link is wrong, or the snapshot has expired or been deleted.",
    503: "The snapshot store cannot be reached right now. Try again in a moment.",
}

_HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


def is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SnapshotError as exc:
        cause = exc.__cause__
        if exc.status >= 500 and cause is not None and not isinstance(cause, SnapshotError):
            # A driver error behind a 503: the operator needs it (the client gets the message).
            log.warning(
                "%s %s: %s", request.method, route_template(request), exc.message, exc_info=cause
            )
        return error_response(request, exc.status, exc.message)
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
    """JSON for the API, a small HTML page for everything a person opens."""
    if is_api(request):
        response = json_response({"message": message}, status=status, cache_control=NO_STORE)
    else:
        page = render_error_page(status, message, _PAGE_EXPLANATIONS.get(status, ""))
        response = web.Response(text=page, status=status, content_type="text/html")
        response.headers["Cache-Control"] = NO_STORE
        response.headers["Content-Security-Policy"] = content_security_policy(
            secrets.token_urlsafe(16)
        )
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the caller once. A bad token is 401 everywhere but the unauthenticated paths,
    even on routes that need no token (SPEC §2): a broken client learns it at once."""
    if request.path in UNAUTHENTICATED_PATHS:
        return await handler(request)
    authenticator = request.app[AUTHENTICATOR]
    request[IDENTITY] = authenticator.identify(request.headers.get("Authorization"))
    return await handler(request)
