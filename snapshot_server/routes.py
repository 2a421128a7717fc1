"""The route table (SPEC §3). Every path answers with and without a trailing slash.

A key segment that is empty (``/api/snapshots/``) is routed to the same handler with key ``""``,
which never matches a snapshot (CVE-2021-39226 was an empty key matching every row).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from . import views


def _both(method: str, path: str, handler: Handler) -> list[web.RouteDef]:
    return [web.route(method, path, handler), web.route(method, path + "/", handler)]


def api_routes() -> list[web.RouteDef]:
    return [
        *_both("POST", "/api/snapshots", views.create_snapshot),
        *_both("GET", "/api/snapshots", views.get_snapshot),  # empty key: 404
        *_both("DELETE", "/api/snapshots", views.delete_snapshot),  # empty key: 404
        *_both("GET", "/api/snapshots/{key}", views.get_snapshot),
        *_both("DELETE", "/api/snapshots/{key}", views.delete_snapshot),
        *_both("GET", "/api/snapshots-delete", views.delete_by_delete_key),  # empty: 404
        *_both("GET", "/api/snapshots-delete/{delete_key}", views.delete_by_delete_key),
        *_both("GET", "/api/dashboard/snapshots", views.list_snapshots),
        *_both("GET", "/api/snapshot/shared-options", views.shared_options),
        *_both("GET", "/api/health", views.health),
    ]
