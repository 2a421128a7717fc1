"""The OpenAPI 3.1 document of the whole API, served at ``GET /api/openapi.json``.

Built here in Python from the same constants the handlers use (key pattern, name length, list
bounds), serialised once, and served with no token. ``components`` holds the schemas, the
security scheme and the shared responses; ``snapshots`` and ``service`` hold the operations.
``tests/api/test_openapi.py`` proves the routes the application registers and the operations
documented here are the same set, and ``tests/fuzz/`` fuzzes live servers against it.
"""

from __future__ import annotations

import functools

import orjson
from aiohttp import web

from ... import __version__
from ..responses import JSON_TYPE
from .components import SCHEMAS, SECURITY_SCHEMES, Json, without_bodies
from .service import HEALTH, METRICS, OPENAPI, SHARED_OPTIONS
from .sharing import PASSWORD_HEADER, ROTATE, UNLOCK, UPDATE, VIEW_401, VIEW_429
from .snapshots import (
    CREATE,
    DELETE,
    DELETE_BY_KEY,
    DELETE_BY_KEY_EMPTY,
    DELETE_EMPTY,
    GET,
    GET_EMPTY,
    LIST,
    PAGE,
)

DOCUMENT_PATH = "/api/openapi.json"

DESCRIPTION = """\
A self-hosted, Grafana-compatible dashboard snapshot server.

* **Errors** on /api/ are always JSON `{"message": string}`; outside /api/ (the viewer page)
  they are HTML pages.
* **Paths** are listed in their canonical spelling; every path but /metrics also answers with
  a trailing slash. A query string on the snapshot routes is ignored.
* **Tokens**: HTTP bearer. A malformed, unknown or revoked token is 401 wherever the
  Authorization header is read (everywhere but /api/health, /api/openapi.json and /metrics),
  even where no token is needed.
* **HEAD** is answered only where GET is safe: not on /api/snapshots-delete/{deleteKey} (it
  deletes) nor on the viewer page (405, with Allow).
* **Protected snapshots** (created with a `password`): viewing needs the password in
  `X-Snapshot-Password`, or the access cookie the viewer's password form sets; everything about
  them is `private, no-store`. Wrong passwords are rate-limited per snapshot and address
  (`[sharing] password_attempts`), always.
* **Abuse limits** (`[limits]`, on by default in public_mode): 429 with Retry-After for too
  many creates, unknown-key lookups or deleteKey deletes; 413/429 for an org's byte and
  snapshot caps; 408 for a body that arrives too slowly; 503 with Retry-After when uploads in
  flight fill the upload bound.
* **Any request** may also be answered by the connection layer: 400 `{"message": "Bad
  request: ..."}` for malformed HTTP (then the connection is closed), 404 for an unknown path,
  405 for a method the path does not serve, 408 for headers that arrive too slowly, 417 for an
  Expect header other than 100-continue.
* **Not listed**: the viewer page's static files under /public/snapshot-viewer/ (part of the
  page, not of the API).
"""


def document() -> Json:
    """The OpenAPI document, as a fresh dict (nothing shared with the served one: tools such
    as schemathesis annotate the dict they load)."""
    loaded: Json = orjson.loads(document_bytes())
    return loaded


@functools.cache
def document_bytes() -> bytes:
    """The document serialised, once per process."""
    return orjson.dumps(_build())


def _build() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "snapshot-server",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": _paths(),
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def _readable(operation: Json) -> Json:
    """GET and its HEAD twin (HEAD is answered wherever GET is safe)."""
    return {"get": operation, "head": without_bodies(operation, operation["operationId"] + "Head")}


def _paths() -> Json:
    """Every route, in its canonical spelling (no trailing slash), with its operations."""
    return {
        "/api/snapshots": {"post": CREATE, **_readable(GET_EMPTY), "delete": DELETE_EMPTY},
        "/api/snapshots/{key}": {**_readable(_protectable(GET)), "delete": DELETE, "patch": UPDATE},
        "/api/snapshots/{key}/rotate": {"post": ROTATE},
        "/api/snapshots-delete": {"get": DELETE_BY_KEY_EMPTY},
        "/api/snapshots-delete/{deleteKey}": {"get": DELETE_BY_KEY},
        "/api/dashboard/snapshots": _readable(LIST),
        "/api/snapshot/shared-options": _readable(SHARED_OPTIONS),
        "/api/health": _readable(HEALTH),
        "/api/openapi.json": _readable(OPENAPI),
        "/metrics": _readable(METRICS),
        "/dashboard/snapshot/{key}": {"get": _locked_page(PAGE), "post": UNLOCK},
    }


def _protectable(operation: Json) -> Json:
    """A view of a snapshot that may be password-protected: the password header, its 401
    and its 429."""
    return {
        **operation,
        "parameters": [*operation["parameters"], PASSWORD_HEADER],
        "responses": {**operation["responses"], "401": VIEW_401, "429": VIEW_429},
    }


def _locked_page(operation: Json) -> Json:
    """The viewer page, which shows a protected snapshot's password form (401) until a right
    password set its access cookie."""
    responses = dict(operation["responses"])
    responses["401"] = {
        **responses["401"],
        "description": responses["401"]["description"]
        + "; or, for a protected snapshot without a valid access cookie, the password form",
    }
    return {**operation, "responses": responses}


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``: the document; no token needed (the Authorization header is
    not read)."""
    response = web.Response(body=document_bytes(), content_type=JSON_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response
