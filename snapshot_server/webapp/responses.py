"""Response helpers shared by the JSON API and the pages: JSON bodies, cache headers, ETags."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..models import SnapshotMeta
from ..urls import surrogate_key

JSON_TYPE = "application/json"
NO_STORE = "no-store"
PRIVATE_NO_STORE = "private, no-store"


def json_response(
    data: Any, *, status: int = 200, cache_control: str | None = None
) -> web.Response:
    """A JSON response serialised with orjson; ``cache_control`` sets Cache-Control when given."""
    response = web.Response(body=orjson.dumps(data), status=status, content_type=JSON_TYPE)
    if cache_control is not None:
        response.headers["Cache-Control"] = cache_control
    return response


def snapshot_cache_headers(meta: SnapshotMeta, max_age: int | None) -> dict[str, str]:
    """Cache-Control, ETag and surrogate keys for a snapshot shown by key (JSON or page).

    ``max_age`` from ``SnapshotService.cache_max_age``; ``None`` means the answer depends on the
    caller's token, so no cache may keep it.
    """
    tag = surrogate_key(meta.key)
    cache_control = PRIVATE_NO_STORE if max_age is None else f"public, max-age={max_age}"
    return {
        "Cache-Control": cache_control,
        "ETag": meta.etag,
        "Surrogate-Key": tag,
        "Cache-Tag": tag,
    }


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
