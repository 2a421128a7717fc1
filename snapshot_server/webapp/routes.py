"""The route table: every route the server answers, each with and without a trailing slash.

A key segment that is empty (``/api/snapshots/``) is routed to the same handler with key ``""``,
which never matches a snapshot (CVE-2021-39226 was an empty key matching every row).

Two rules hold for every route, including the fallback that answers unknown paths:

* ``Expect: 100-continue`` is never answered up front (``defer_continue``): the one handler that
  reads a body sends ``100 Continue`` itself, once the caller is known to be allowed to send it.
* HEAD is answered only where GET is safe. ``GET /api/snapshots-delete/{deleteKey}`` deletes,
  and link checkers and mail scanners send HEAD to links they find, so it has no HEAD (405).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..metrics import metrics_view
from ..viewer import STATIC_DIR
from ..viewer.locked import unlock_page
from ..viewer.page import STATIC_PREFIX, snapshot_page
from . import api, changes_api
from .middlewares import error_response
from .openapi import DOCUMENT_PATH, openapi_json
from .requests import UNMATCHED

GRAFANA_SLASHED_CREATE = "//api/snapshots"


async def defer_continue(request: web.Request) -> web.StreamResponse | None:
    """The ``Expect`` handler of every route: send nothing yet (``request_body.read_body``
    answers ``100-continue`` when it reads); any other expectation is refused with 417."""
    if request.headers.get("Expect", "").strip().lower() == "100-continue":
        return None
    return error_response(request, 417, "Expectation failed: only 100-continue is supported")


def _both(method: str, path: str, handler: Handler, *, head: bool = True) -> list[web.RouteDef]:
    kwargs: dict[str, Any] = {"expect_handler": defer_continue}
    if method == "GET":
        kwargs["allow_head"] = head
    return [web.route(method, p, handler, **kwargs) for p in (path, path + "/")]


def route_table() -> list[web.AbstractRouteDef]:
    """Every route but the fallback, in one list."""
    return [
        *_both("POST", "/api/snapshots", api.create_snapshot),
        # Grafana appends "/api/snapshots" to its external_snapshot_url as written: one written
        # with a trailing slash makes it POST here. A redirect would not do: Go's client turns
        # a POST redirected by 301/302 into a GET.
        *_both("POST", GRAFANA_SLASHED_CREATE, api.create_snapshot),
        *_both("GET", "/api/snapshots", api.get_snapshot),  # empty key: 404
        *_both("DELETE", "/api/snapshots", api.delete_snapshot),  # empty key: 404
        *_both("GET", "/api/snapshots/{key}", api.get_snapshot),
        *_both("DELETE", "/api/snapshots/{key}", api.delete_snapshot),
        *_both("PATCH", "/api/snapshots/{key}", changes_api.update_snapshot),
        *_both("POST", "/api/snapshots/{key}/rotate", changes_api.rotate_snapshot),
        *_both("GET", "/api/snapshots-delete", api.delete_by_delete_key, head=False),
        *_both("GET", "/api/snapshots-delete/{delete_key}", api.delete_by_delete_key, head=False),
        *_both("GET", "/api/dashboard/snapshots", api.list_snapshots),
        *_both("GET", "/api/snapshot/shared-options", api.shared_options),
        *_both("GET", "/api/health", api.health),
        *_both("GET", DOCUMENT_PATH, openapi_json),
        web.get("/metrics", metrics_view, expect_handler=defer_continue),
        # People open the page; HEAD would render a whole dashboard for a link checker.
        *_both("GET", "/dashboard/snapshot/{key}", snapshot_page, head=False),
        # The password form of a protected snapshot posts to its own page.
        *_both("POST", "/dashboard/snapshot/{key}", unlock_page),
        web.static(STATIC_PREFIX, STATIC_DIR, expect_handler=defer_continue),
    ]


async def unmatched(request: web.Request) -> web.StreamResponse:
    """404, or 405 naming the allowed methods when another route serves this path.

    Registered last, for every method and path, so that unknown paths get ``defer_continue``
    too (aiohttp's own not-found route would answer ``100 Continue`` first).
    """
    allowed: set[str] = set()
    fallback = request.match_info.route.resource
    for resource in request.app.router.resources():
        if resource is not fallback:
            _match, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def setup_routes(app: web.Application) -> None:
    """Register the route table, then the catch-all fallback (which must come last)."""
    app.add_routes(route_table())
    app.router.add_route(
        "*", "/{path:.*}", unmatched, name=UNMATCHED, expect_handler=defer_continue
    )
