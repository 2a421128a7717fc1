"""The OpenAPI document's reusable parts: the JSON schemas of every body the API sends or
reads, the bearer security scheme, and helpers that shape responses (every error is the one
``Error`` schema, ``{"message": string}``).

The schemas are the server's answers as ``webapp.api`` builds them; ``tests/api/test_openapi.py``
and the schemathesis fuzz (``tests/fuzz/``) hold the server to them.
"""

from __future__ import annotations

from typing import Any

from ...capture.member import MAX_DATA_POINTS
from ...models import HUNDRED_YEARS, KEY_RE
from ...sharing.passwords import MAX_LENGTH, MIN_LENGTH
from ..parsing import MAX_NAME_LENGTH

Json = dict[str, Any]

BEARER = "bearerAuth"
JSON_TYPE = "application/json"


def ref(name: str) -> Json:
    """A reference to ``#/components/schemas/{name}``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _strict(properties: Json) -> Json:
    """An object with exactly these properties, all present (the server never adds others)."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


_STRING: Json = {"type": "string"}
_TIME: Json = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
_ID: Json = {"type": "integer", "minimum": 1, "description": "The snapshot's numeric id"}
_KEY: Json = {
    "type": "string",
    "pattern": KEY_RE.pattern,
    "description": "A secret: anyone who has it may view the snapshot",
}
# A client-chosen key: "" or null means "generate one", as Grafana sends it.
_CHOSEN_KEY: Json = {"type": ["string", "null"], "pattern": r"^[A-Za-z0-9_-]{0,128}$"}

SCHEMAS: Json = {
    "Error": {
        **_strict({"message": _STRING}),
        "description": "Every error on /api/: what went wrong, naming the field or parameter",
    },
    "CreateRequest": {
        "type": "object",
        "required": ["dashboard"],
        "description": "Unknown fields are ignored, as Grafana does.",
        "properties": {
            "dashboard": {"type": "object", "description": "Any dashboard JSON object"},
            "name": {
                "type": ["string", "null"],
                "maxLength": MAX_NAME_LENGTH,
                "description": 'Empty or null: "Unnamed snapshot"',
            },
            "expires": {
                "type": ["integer", "null"],
                "maximum": HUNDRED_YEARS,
                "description": "Seconds to live; 0, negative or null: never "
                "(or snapshots.max_expires when set, which is also the most allowed: 400 above)",
            },
            "external": {
                "type": ["boolean", "null"],
                "description": "true: publish to snapshots.external_snapshot_url and keep only "
                "a pointer here (403 unless snapshots.external_enabled; 502 if that server fails)",
            },
            "key": {**_CHOSEN_KEY, "description": "The view key to use; taken: 409"},
            "deleteKey": {
                **_CHOSEN_KEY,
                "description": "The deleteKey to use (must differ from key); taken: 409",
            },
            "password": {
                "type": ["string", "null"],
                "minLength": MIN_LENGTH,
                "maxLength": MAX_LENGTH,
                "description": "Protects the snapshot: viewing it needs this password. Only an "
                "argon2id hash is kept. Not with external: true (400)",
            },
            "capture": {
                "oneOf": [{"type": ["boolean", "null"]}, ref("CaptureOptions")],
                "description": "Run the dashboard's Prometheus queries on the server's "
                "configured datasources and embed the results, as Grafana's own snapshots "
                "embed them (needs [capture] enabled and the snapshots:capture scope; never "
                "for anonymous public_mode creates). true: the dashboard's own time range. "
                "false or null: no capture, not even [capture] auto's",
            },
        },
    },
    "CaptureOptions": {
        "type": "object",
        "additionalProperties": False,
        "description": "Unknown options are refused (400)",
        "properties": {
            "datasource": {
                "type": "string",
                "description": "A configured datasource's name: runs the Prometheus targets "
                "whose own datasource maps to none (default: the configured default)",
            },
            "from": {
                "type": ["string", "integer"],
                "description": 'Grafana time: "now-6h", "now/d", an ISO date, epoch '
                "milliseconds (default: the dashboard's time.from)",
            },
            "to": {
                "type": ["string", "integer"],
                "description": "As from (default: the dashboard's time.to)",
            },
            "variables": {
                "type": "object",
                "additionalProperties": {"oneOf": [_STRING, {"type": "array", "items": _STRING}]},
                "description": "Template variables' values, overriding their current ones",
            },
            "maxDataPoints": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_DATA_POINTS,
                "description": "Points per query instead of the panel's own (or its width)",
            },
        },
    },
    "Created": {
        **_strict(
            {
                "deleteKey": {**_KEY, "description": "A secret: anyone who has it may delete"},
                "deleteUrl": {
                    "type": "string",
                    "format": "uri",
                    "description": "GET it to delete",
                },
                "key": _KEY,
                "url": {"type": "string", "format": "uri", "description": "The viewer page"},
                "id": _ID,
                "capture": {
                    **_strict(
                        {
                            "panels": {"type": "integer", "minimum": 0},
                            "queries": {"type": "integer", "minimum": 0},
                            "series": {"type": "integer", "minimum": 0},
                            "points": {"type": "integer", "minimum": 0},
                            "ms": {"type": "integer", "minimum": 0},
                        }
                    ),
                    "description": "Only when a capture ran: panels captured, queries run, "
                    "series and points embedded, milliseconds it took",
                },
            }
        ),
        "required": ["deleteKey", "deleteUrl", "key", "url", "id"],
    },
    "SnapshotMeta": _strict(
        {
            "isSnapshot": {"const": True},
            "type": {"const": "snapshot"},
            **{f"can{what}": {"const": False} for what in ("Save", "Edit", "Admin", "Star")},
            "canDelete": {"const": False},
            "slug": {"const": ""},
            "url": {"const": ""},
            "expires": {**_TIME, "description": "A snapshot that never expires: created + 50 y"},
            "created": _TIME,
            "updated": _TIME,
        },
    ),
    "Snapshot": _strict(
        {
            "meta": ref("SnapshotMeta"),
            "dashboard": {"type": "object", "description": "The dashboard as it was posted"},
        },
    ),
    "Deleted": _strict({"message": _STRING, "id": _ID}),
    "SnapshotListItem": _strict(
        {
            "id": _ID,
            "name": _STRING,
            "key": _KEY,
            "orgId": {"type": "integer"},
            "userId": {"type": "integer"},
            "external": {"type": "boolean"},
            "externalUrl": _STRING,
            "expires": _TIME,
            "created": _TIME,
            "updated": _TIME,
            "passwordProtected": {"type": "boolean"},
        },
    ),
    "SharedOptions": _strict(
        {
            "snapshotEnabled": {"type": "boolean"},
            "externalSnapshotURL": _STRING,
            "externalSnapshotName": _STRING,
            "externalEnabled": {"type": "boolean"},
        },
    ),
    "Health": _strict({"database": {"const": "ok"}, "version": _STRING}),
    "HealthFailing": _strict(
        {"database": {"const": "failing"}, "version": _STRING, "message": _STRING}
    ),
}

SECURITY_SCHEMES: Json = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from the config's [[auth.tokens]] (`snapshot-server token` "
        "makes one). A malformed, unknown or revoked token is 401 on every operation that "
        "reads it, even one that needs no token.",
    }
}

TOKEN: list[Json] = [{BEARER: []}]
"""An operation that needs a token."""
OPTIONAL_TOKEN: list[Json] = [{}, {BEARER: []}]
"""An operation anyone may call; a token sent is checked (and may grant more)."""
NO_TOKEN: list[Json] = []
"""An operation that ignores the Authorization header."""

_HEADER_TEXT: Json = {"schema": {"type": "string"}}
RETRY_AFTER: Json = {
    "Retry-After": {**_HEADER_TEXT, "description": "Seconds until a retry may succeed"}
}
CACHE_HEADERS: Json = {
    "Cache-Control": {
        **_HEADER_TEXT,
        "description": "public, max-age=N (never past the expiry); private, no-store when "
        "viewing needs a token, for a password-protected snapshot, and through a rotated "
        "key's grace period",
    },
    "ETag": {**_HEADER_TEXT, "description": "Strong; If-None-Match answers 304"},
    "Surrogate-Key": {**_HEADER_TEXT, "description": "snapshot-{key}, for CDN purges"},
    "Cache-Tag": {**_HEADER_TEXT, "description": "snapshot-{key}, for CDN purges"},
}


def json_response(description: str, schema: Json, headers: Json | None = None) -> Json:
    response: Json = {"description": description, "content": {JSON_TYPE: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def error(description: str, *, headers: Json | None = None, page: bool = False) -> Json:
    """An error response: JSON ``Error`` on /api/; ``page=True``: the viewer's HTML page."""
    if page:
        response = text_response(description, "text/html")
        if headers:
            response["headers"] = headers
        return response
    return json_response(description, ref("Error"), headers)


def text_response(description: str, media_type: str, headers: Json | None = None) -> Json:
    response: Json = {
        "description": description,
        "content": {media_type: {"schema": {"type": "string"}}},
    }
    if headers:
        response["headers"] = headers
    return response


_BEARER_CHALLENGE: Json = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}}
BAD_TOKEN = error("A malformed, unknown or revoked token", headers=_BEARER_CHALLENGE)
NEEDS_TOKEN = error("No token, or a malformed, unknown or revoked one", headers=_BEARER_CHALLENGE)
STORAGE = error("Storage unreachable")


def forbidden(*why: str) -> Json:
    """403, listing why it may happen: always when ``snapshots.enabled = false``."""
    return error("Not allowed: " + "; ".join(("snapshots.enabled = false", *why)))


def without_bodies(operation: Json, operation_id: str) -> Json:
    """The HEAD twin of a GET operation: the same parameters, statuses and headers, no bodies."""
    responses = {
        status: {k: v for k, v in response.items() if k != "content"}
        for status, response in operation["responses"].items()
    }
    return {
        **operation,
        "operationId": operation_id,
        "summary": f"{operation['summary']} (headers only)",
        "responses": responses,
    }
