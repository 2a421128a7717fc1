"""The pages a person opens: the snapshot viewer at ``/dashboard/snapshot/{key}`` and its
static assets. Permissions, expiry and caching are the JSON route's (same service call, same
cache headers); only the representation differs.

Rendering a large dashboard costs up to a few seconds of CPU (the page's limits bound it, see
``viewer/budget.py``), so it runs in a worker thread, and the result is kept in a small
byte-bounded LRU keyed by the snapshot's ETag: a snapshot never changes, and the lookup happens
only after the service has confirmed the snapshot still exists and has not expired. Every page
is under ``Limits.page_bytes``, so every page fits in that cache.

:class:`PageRenderer` makes sure a page is rendered once however many people open it at the same
moment (single flight), and that only a few renders run at a time.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from ..abuse import checks as limits
from ..errors import PublishedElsewhere
from ..models import Snapshot
from ..webapp.appkeys import ACCESS, PAGE_ERRORS, RENDERER, SERVICE
from ..webapp.requests import identity_of
from ..webapp.responses import etag_matches, snapshot_cache_headers
from .locked import locked_page
from .render import content_security_policy, render_error_page, render_snapshot_page

STATIC_PREFIX = "/public/snapshot-viewer/"
RENDER_CACHE_BYTES = 64 * 1024 * 1024
# Renders running at once. A render is CPU-bound Python (one core at a time under the GIL), so
# more at once would not finish sooner; it would only hold more parsed dashboards in memory and
# take more of the thread pool the rest of the server shares.
RENDER_CONCURRENCY = 2
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


Page = tuple[bytes, bytes]  # (page, nonce placeholder), as the cache keeps it
Render = Callable[..., str]  # render_snapshot_page's signature


class PageRenderer:
    """Rendered pages by ETag: from the cache, else from one shared render.

    Concurrent first views of one snapshot wait for the same render (single flight) instead of
    each drawing the page. The render runs as its own task, so a viewer who goes away does not
    cancel it for the others, and its page lands in the cache either way. A render that fails
    is not remembered: its waiters get the error and the next view renders again. At most
    ``concurrency`` renders run at once; the others wait their turn.
    """

    def __init__(self, cache: RenderCache, concurrency: int, render: Render) -> None:
        self.cache = cache
        self.render = render  # ``render_snapshot_page``; tests put a counting one in its place
        self._slots = asyncio.Semaphore(concurrency)
        self._flights: dict[str, asyncio.Task[Page]] = {}
        self.running = 0  # renders in the thread pool now
        self.queued = 0  # renders waiting for a turn
        self.joined = 0  # views that found their page already being rendered, since start

    async def page(self, snapshot: Snapshot, etag: str) -> Page:
        """The page of ``snapshot`` (whose page ETag is ``etag``), rendered at most once."""
        cached = self.cache.get(etag)
        if cached is not None:
            return cached
        flight = self._flights.get(etag)
        if flight is None:
            flight = asyncio.create_task(self._render(snapshot, etag))
            self._flights[etag] = flight
            flight.add_done_callback(functools.partial(self._landed, etag))
        else:
            self.joined += 1
        # shield: a waiter that is cancelled (its client left) must not cancel the render.
        return await asyncio.shield(flight)

    async def _render(self, snapshot: Snapshot, etag: str) -> Page:
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        self.running += 1
        try:
            # Unguessable, so no dashboard text can contain it and receive the nonce.
            placeholder = secrets.token_hex(16)
            render = functools.partial(
                self.render, snapshot, nonce=placeholder, static_prefix=STATIC_PREFIX
            )
            html = await asyncio.get_running_loop().run_in_executor(None, render)
        finally:
            self.running -= 1
            self._slots.release()
        page = (html.encode(), placeholder.encode())
        self.cache.put(etag, *page)
        return page

    def _landed(self, etag: str, flight: asyncio.Task[Page]) -> None:
        if self._flights.get(etag) is flight:
            del self._flights[etag]
        if not flight.cancelled():
            # Marks the error retrieved when every waiter has gone; waiters still there get it
            # too, and the error middleware logs it once per request.
            flight.exception()


async def snapshot_page(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    key = request.match_info.get("key", "")
    try:
        snapshot = await limits.lookup(request, lambda: service.view(identity_of(request), key))
    except PublishedElsewhere as elsewhere:
        return published_elsewhere_page(elsewhere.external_url)
    meta = snapshot.meta
    if meta.password_hash and not request.app[ACCESS].has_access_cookie(request, meta, key):
        return locked_page(request, key)
    # Through a rotation's grace alias (``meta.key`` is the new key): no cache may keep it, as
    # the alias ends at a time no cache knows.
    max_age = service.cache_max_age(meta) if meta.key == key else None
    headers = snapshot_cache_headers(meta, max_age)
    headers["ETag"] = page_etag(snapshot)
    if etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
        return web.Response(status=304, headers=headers)
    page, placeholder_bytes = await request.app[RENDERER].page(snapshot, headers["ETag"])
    nonce = secrets.token_urlsafe(16)
    headers["Content-Security-Policy"] = content_security_policy(nonce)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # the URL is the secret: never leak it onwards
    body = page.replace(placeholder_bytes, nonce.encode())
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


def page_etag(snapshot: Snapshot) -> str:
    """The page's strong ETag: the snapshot's, marked as the HTML representation."""
    return snapshot.meta.etag[:-1] + '-html"'


async def _static_cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX) and response.status == 200:
        response.headers["Cache-Control"] = STATIC_CACHE_CONTROL


# What a person reading an error page is told beyond the status line.
_EXPLANATIONS = {
    401: "This snapshot needs you to be signed in.",
    403: "You are not allowed to see this page.",
    404: "This link is wrong, or the snapshot has expired or been deleted.",
    429: "Too many requests from your address. Try again in a while.",
    503: "The snapshot store cannot be reached right now. Try again in a moment.",
}


def error_page(
    status: int, message: str, explanation: str | None = None, link: str = ""
) -> web.Response:
    """The HTML page a person sees for an error (``message`` as its headline; ``explanation``
    by default the status's, and an optional ``link``), under a CSP of its own."""
    if explanation is None:
        explanation = _EXPLANATIONS.get(status, "")
    page = render_error_page(
        status, headline=message, explanation=explanation, static=STATIC_PREFIX, link=link
    )
    response = web.Response(text=page, status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(secrets.token_urlsafe(16))
    return response


def published_elsewhere_page(external_url: str) -> web.Response:
    """The page of an external snapshot's local key: a 404 (its data is not here) that links
    to where it was published. ``external_url`` was checked to be http(s) when it was stored."""
    response = error_page(
        404,
        "This snapshot was published on another server",
        "Its data is kept there, not here. Open it at:",
        link=external_url,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is the secret: never leak it
    response.headers["Cache-Control"] = "no-store"
    return response


def setup_pages(app: web.Application) -> None:
    """The page renderer, the error pages of everything not under ``/api/``, and the static
    files' cache headers (the routes are in ``webapp.routes``)."""
    app[RENDERER] = PageRenderer(
        RenderCache(RENDER_CACHE_BYTES), RENDER_CONCURRENCY, render_snapshot_page
    )
    app[PAGE_ERRORS] = error_page
    app.on_response_prepare.append(_static_cache_headers)
