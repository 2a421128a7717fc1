"""What the web layer reads off a request besides its parameters: who is calling, which route
it matched (for logs and metrics, where the path itself would leak keys), whether it is API."""

from __future__ import annotations

from aiohttp import web

from ..auth import Identity
from .appkeys import IDENTITY

UNMATCHED = "unmatched"  # the fallback route's name, and the label of requests no route serves


def identity_of(request: web.Request) -> Identity:
    """The caller, as resolved by the identity middleware."""
    return request[IDENTITY]


def is_api(request: web.Request) -> bool:
    """``/api/...`` answers programs (JSON); everything else answers people. Leading slashes
    count as one: Grafana, given an external_snapshot_url with a trailing slash, calls
    ``//api/snapshots``, and its errors are API errors too."""
    path = "/" + request.path.lstrip("/")
    return path == "/api" or path.startswith("/api/")


def route_template(request: web.Request) -> str:
    """The matched route's template (``/api/snapshots/{key}``), or ``"unmatched"``.

    Use it wherever a request is logged or counted: the path itself holds keys, which are
    secrets, and is unbounded in number.
    """
    info = request.match_info
    resource = info.route.resource
    if info.http_exception is not None or resource is None or resource.name == UNMATCHED:
        return UNMATCHED
    return resource.canonical
