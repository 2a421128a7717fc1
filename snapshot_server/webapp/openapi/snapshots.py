"""The OpenAPI operations of the snapshot routes: create, view (JSON and the viewer page),
delete by key, delete by deleteKey (each with its empty-key spelling), and the listing.

Each operation lists every status its handler and the middlewares answer a well-formed request
with; the answers any request may get from the connection layer are in the document's
description.
"""

from __future__ import annotations

from ..parsing import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_PAGE
from .components import (
    BAD_TOKEN,
    CACHE_HEADERS,
    JSON_TYPE,
    NEEDS_TOKEN,
    NO_TOKEN,
    OPTIONAL_TOKEN,
    RETRY_AFTER,
    STORAGE,
    TOKEN,
    Json,
    error,
    forbidden,
    json_response,
    ref,
    text_response,
)

NOT_FOUND = error("Unknown, expired or deleted key (one answer for all three)")
GUESSING = error(
    "Too many lookups of unknown keys from this address ([limits] unknown_keys_per_address)",
    headers=RETRY_AFTER,
)


def _key(name: str, description: str) -> Json:
    """A key in the path. Anything but a key's shape is answered like an unknown key (404)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


IF_NONE_MATCH: Json = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier answer: 304 when it still matches",
    "schema": {"type": "string"},
}

# -- the operations ------------------------------------------------------------------------

_BY_KEY = {"key": "$response.body#/key"}
CREATED_LINKS: Json = {
    "view": {"operationId": "getSnapshot", "parameters": _BY_KEY},
    "page": {"operationId": "viewerPage", "parameters": _BY_KEY},
    "delete": {"operationId": "deleteSnapshot", "parameters": _BY_KEY},
    "deleteUrl": {
        "operationId": "deleteByDeleteKey",
        "parameters": {"deleteKey": "$response.body#/deleteKey"},
    },
    "list": {"operationId": "listSnapshots", "parameters": {"query": "$request.body#/name"}},
}

EXTERNAL_502 = error(
    "external: true, and the external snapshot server (snapshots.external_snapshot_url) was "
    "unreachable, slow, refused or answered what it should not (the message says which); "
    "nothing was stored. On a delete of an external snapshot: its remote copy could not be "
    "deleted, and the local one is kept"
)

CREATE: Json = {
    "operationId": "createSnapshot",
    "summary": "Create a snapshot",
    "description": "The token (or public_mode, which needs none) is checked before a byte of "
    "the body is read. The body may be sent with Content-Encoding gzip or deflate; "
    "server.max_body_bytes applies to the inflated size.",
    "security": TOKEN,
    "requestBody": {"required": True, "content": {JSON_TYPE: {"schema": ref("CreateRequest")}}},
    "responses": {
        "200": {**json_response("Created", ref("Created")), "links": CREATED_LINKS},
        "400": error(
            "A body that is not a JSON object, a bad field (named), key equal to deleteKey, "
            "a body that is not what its Content-Encoding says; with capture: a bad capture "
            "option, an unknown datasource, a time or variable that cannot be read, or a "
            "query Prometheus rejected (naming the panel id, title and refId, with "
            "Prometheus's own message)"
        ),
        "401": NEEDS_TOKEN,
        "403": forbidden(
            "the token lacks snapshots:create",
            "external: true while external_enabled is false",
            "capture while [capture] enabled is false, from an anonymous public_mode caller, "
            "or by a token without snapshots:capture",
        ),
        "408": error("The body took longer than [limits] body_timeout to arrive"),
        "409": error("The key or deleteKey chosen is taken"),
        "413": error(
            "The body (inflated) is over server.max_body_bytes, the org would pass "
            "[limits] max_bytes_per_org, or a capture is over one of [capture]'s caps "
            "(max_queries, max_range, max_series, max_points, max_response_bytes: named)"
        ),
        "415": error("A Content-Encoding other than gzip or deflate"),
        "417": error("An Expect header other than 100-continue"),
        "429": error(
            "Too many creates from this token or address ([limits] creates_per_token, "
            "creates_per_address), or the org holds [limits] max_snapshots_per_org",
            headers=RETRY_AFTER,
        ),
        "502": error(
            EXTERNAL_502["description"] + ". With capture: a Prometheus datasource was "
            "unreachable, redirected (never followed), refused the credentials or answered "
            "what Prometheus does not; nothing was stored"
        ),
        "503": error(
            "Storage unreachable, or uploads in flight hold [limits] upload_bytes_in_flight",
            headers=RETRY_AFTER,
        ),
        "504": error(
            "A capture took longer than [capture] timeout, or Prometheus timed out a query; "
            "nothing was stored"
        ),
    },
}

EMPTY_KEY = "An empty key: never matches a snapshot (404), as /api/snapshots/ does."

GET_EMPTY: Json = {
    "operationId": "getSnapshotEmptyKey",
    "summary": "A snapshot by an empty key",
    "description": EMPTY_KEY + " Snapshots are listed by GET /api/dashboard/snapshots.",
    "security": OPTIONAL_TOKEN,
    "responses": {
        "401": NEEDS_TOKEN,
        "403": forbidden("the token lacks snapshots:read"),
        "404": NOT_FOUND,
        "429": GUESSING,
    },
}

GET: Json = {
    "operationId": "getSnapshot",
    "summary": "A snapshot by its key",
    "description": "No token needed unless snapshots.view_requires_auth.",
    "security": OPTIONAL_TOKEN,
    "parameters": [_key("key", "The snapshot's view key"), IF_NONE_MATCH],
    "responses": {
        "200": {
            **json_response("The snapshot", ref("Snapshot"), CACHE_HEADERS),
            "links": {
                "revalidate": {
                    "operationId": "getSnapshot",
                    "parameters": {
                        "key": "$request.path.key",
                        "header.If-None-Match": "$response.header.ETag",
                    },
                }
            },
        },
        "304": {"description": "If-None-Match matched", "headers": CACHE_HEADERS},
        "401": NEEDS_TOKEN,
        "403": forbidden("the token lacks snapshots:read"),
        "404": NOT_FOUND,
        "429": GUESSING,
        "503": STORAGE,
    },
}

DELETE_EMPTY: Json = {
    "operationId": "deleteSnapshotEmptyKey",
    "summary": "Delete a snapshot by an empty key",
    "description": EMPTY_KEY,
    "security": TOKEN,
    "responses": {
        "401": NEEDS_TOKEN,
        "403": forbidden("the token lacks snapshots:delete"),
        "404": NOT_FOUND,
    },
}

DELETE: Json = {
    "operationId": "deleteSnapshot",
    "summary": "Delete a snapshot as its creator or an org Admin",
    "description": "Another org's snapshot is 404. The purge of CDN caches, if any, follows.",
    "security": TOKEN,
    "parameters": [_key("key", "The snapshot's view key")],
    "responses": {
        "200": json_response("Deleted", ref("Deleted")),
        "401": NEEDS_TOKEN,
        "403": forbidden("the token lacks snapshots:delete", "neither creator nor org Admin"),
        "404": NOT_FOUND,
        "502": EXTERNAL_502,
        "503": STORAGE,
    },
}

COMPAT_500 = error(
    'With snapshots.grafana_external_compat (on by default in public_mode): "Failed to get '
    'dashboard snapshot" for an unknown deleteKey instead of 404, which Grafana reads as '
    '"already deleted"'
)
DELETE_KEY_LIMIT = error(
    "Too many deletes from this address ([limits] deletes_per_address)", headers=RETRY_AFTER
)

DELETE_BY_KEY_EMPTY: Json = {
    "operationId": "deleteByEmptyDeleteKey",
    "summary": "Delete a snapshot by an empty deleteKey",
    "description": "An empty deleteKey: never matches a snapshot. No HEAD (405).",
    "security": NO_TOKEN,
    "responses": {
        "401": BAD_TOKEN,
        "403": forbidden(),
        "404": NOT_FOUND,
        "429": DELETE_KEY_LIMIT,
        "500": COMPAT_500,
    },
}

DELETE_BY_KEY: Json = {
    "operationId": "deleteByDeleteKey",
    "summary": "Delete a snapshot with its deleteKey (its deleteUrl)",
    "description": "No token needed: the deleteKey is the capability. A GET that deletes, as "
    "Grafana's deleteUrl does; HEAD is refused (405) so that link checkers never delete.",
    "security": NO_TOKEN,
    "parameters": [_key("deleteKey", "The snapshot's deleteKey")],
    "responses": {
        "200": json_response("Deleted", ref("Deleted")),
        "401": BAD_TOKEN,
        "403": forbidden(),
        "404": NOT_FOUND,
        "429": DELETE_KEY_LIMIT,
        "500": COMPAT_500,
        "502": EXTERNAL_502,
        "503": STORAGE,
    },
}


def _bounded(name: str, highest: int, default: int, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{description}; 400 naming {name} outside 1-{highest}",
        "schema": {"type": "integer", "minimum": 1, "maximum": highest, "default": default},
    }


LIST: Json = {
    "operationId": "listSnapshots",
    "summary": "The caller's snapshots (an org Admin's: the whole org's), oldest first",
    "description": "In public_mode an anonymous caller may list, and owns nothing: [].",
    "security": TOKEN,
    "parameters": [
        {
            "name": "query",
            "in": "query",
            "required": False,
            "description": "Only snapshots whose name contains it (case-insensitive)",
            "schema": {"type": "string"},
        },
        _bounded("limit", MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT, "Snapshots per page"),
        _bounded("page", MAX_PAGE, 1, "The page, from 1"),
    ],
    "responses": {
        "200": json_response(
            "The snapshots",
            {"type": "array", "items": ref("SnapshotListItem")},
            {"Cache-Control": {"schema": {"const": "private, no-store"}}},
        ),
        "400": error("limit or page is not an integer in range (named)"),
        "401": NEEDS_TOKEN,
        "403": forbidden("the token lacks snapshots:read"),
        "503": STORAGE,
    },
}


PAGE_ERROR = "The viewer's HTML error page: "

PAGE: Json = {
    "operationId": "viewerPage",
    "summary": "The snapshot's page, for people (HTML drawn by the server)",
    "description": "The share link (`url`). Outside /api/, so errors are HTML pages, not "
    "JSON. Permissions, expiry and cache headers are GET /api/snapshots/{key}'s. No HEAD "
    "(405): it would draw a whole dashboard for a link checker. Its static files under "
    "/public/snapshot-viewer/ are part of the page, not of the API, and are not listed.",
    "security": OPTIONAL_TOKEN,
    "parameters": [_key("key", "The snapshot's view key"), IF_NONE_MATCH],
    "responses": {
        "200": text_response("The page", "text/html", CACHE_HEADERS),
        "304": {"description": "If-None-Match matched", "headers": CACHE_HEADERS},
        "401": error(PAGE_ERROR + "no token, or a bad one", page=True),
        "403": error(PAGE_ERROR + "not allowed", page=True),
        "404": error(
            PAGE_ERROR + "unknown, expired or deleted key; for an external snapshot's key, a "
            "page that links to where it was published",
            page=True,
        ),
        "429": error(PAGE_ERROR + "too many unknown keys", page=True, headers=RETRY_AFTER),
        "503": error(PAGE_ERROR + "storage unreachable", page=True),
    },
}
