"""Small HTTP helpers shared by the views: JSON responses, times, cache headers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

JSON_TYPE = "application/json"
NO_STORE = "no-store"
PRIVATE_NO_STORE = "private, no-store"
UNMATCHED = "unmatched"  # the fallback route's name, and the label of requests no route serves


def json_response(
    data: Any, *, status: int = 200, cache_control: str | None = None
) -> web.Response:
    """A JSON response serialised with orjson; ``cache_control`` sets Cache-Control when given."""
    response = web.Response(body=orjson.dumps(data), status=status, content_type=JSON_TYPE)
    if cache_control is not None:
        response.headers["Cache-Control"] = cache_control
    return response


def rfc3339(timestamp: float) -> str:
    """``2026-11-22T04:31:52Z``: the time format of every API response (SPEC §1)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public_max_age(cache_max_age: int, expires: float | None, now: float) -> int:
    """``min(cache_max_age, whole seconds left)``, so no cache serves past the expiry."""
    if expires is None:
        return cache_max_age
    return max(0, min(cache_max_age, math.floor(expires - now)))


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an ``If-None-Match`` header value names ``etag`` (or is ``*``).

    Weak comparison, as RFC 9110 prescribes for If-None-Match: ``W/"x"`` matches ``"x"``.
    """
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip().removeprefix("W/")
        if candidate in ("*", etag):
            return True
    return False


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
