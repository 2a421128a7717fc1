"""The pages a person opens: the snapshot viewer at ``/dashboard/snapshot/{key}`` and its
static assets. Permissions, expiry and caching are the JSON route's (same service call, same
cache headers); only the representation differs.

Rendering a large dashboard costs a few hundred milliseconds of CPU, so it runs in a worker
thread, and the result is kept in a small byte-bounded LRU keyed by the snapshot's ETag: a
snapshot never changes, and the lookup happens only after the service has confirmed the
snapshot still exists and has not expired.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections import OrderedDict

from aiohttp import web

from .http import etag_matches
from .keys import SERVICE, identity_of
from .models import Snapshot
from .viewer import content_security_policy, render_snapshot_page
from .views import snapshot_cache_headers

STATIC_PREFIX = "/public/snapshot-viewer/"
RENDER_CACHE_BYTES = 64 * 1024 * 1024
STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"  # asset URLs carry ?v=<digest>


class RenderCache:
    """Rendered pages by ETag, least recently used dropped first beyond ``max_bytes``.

    A page is kept as UTF-8 bytes (its real size) with its nonce replaced by a random
    placeholder, so every response can carry a fresh nonce (a CSP nonce must not repeat).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, etag: str) -> tuple[bytes, bytes] | None:
        """``(page, placeholder)`` rendered earlier for ``etag``, or ``None``."""
        page = self._pages.get(etag)
        if page is not None:
            self._pages.move_to_end(etag)
        return page

    def put(self, etag: str, page: bytes, placeholder: bytes) -> None:
        if len(page) > self.max_bytes or etag in self._pages:
            return
        self._pages[etag] = (page, placeholder)
        self._bytes += len(page)
        while self._bytes > self.max_bytes:
            _, (old, _placeholder) = self._pages.popitem(last=False)
            self._bytes -= len(old)


RENDER_CACHE = web.AppKey("render_cache", RenderCache)


async def snapshot_page(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    snapshot = await service.view(identity_of(request), request.match_info.get("key", ""))
    headers = snapshot_cache_headers(request, snapshot)
    headers["ETag"] = page_etag(snapshot)
    if etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
        return web.Response(status=304, headers=headers)
    cache = request.app[RENDER_CACHE]
    cached = cache.get(headers["ETag"])
    if cached is None:
        # Unguessable, so no dashboard text can contain it and receive the nonce.
        placeholder = secrets.token_hex(16)
        render = functools.partial(
            render_snapshot_page, snapshot, nonce=placeholder, static_prefix=STATIC_PREFIX
        )
        html = await asyncio.get_running_loop().run_in_executor(None, render)
        cached = (html.encode(), placeholder.encode())
        cache.put(headers["ETag"], *cached)
    page, placeholder_bytes = cached
    nonce = secrets.token_urlsafe(16)
    headers["Content-Security-Policy"] = content_security_policy(nonce)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # the URL is the secret: never leak it onwards
    body = page.replace(placeholder_bytes, nonce.encode())
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


def page_etag(snapshot: Snapshot) -> str:
    """The page's strong ETag: the snapshot's, marked as the HTML representation."""
    return snapshot.etag[:-1] + '-html"'


async def _static_cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX) and response.status == 200:
        response.headers["Cache-Control"] = STATIC_CACHE_CONTROL


def setup_pages(app: web.Application) -> None:
    """The render cache and the static files' cache headers (routes: ``routes.route_table``)."""
    app[RENDER_CACHE] = RenderCache(RENDER_CACHE_BYTES)
    app.on_response_prepare.append(_static_cache_headers)
