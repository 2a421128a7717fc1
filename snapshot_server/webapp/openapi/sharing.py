"""The OpenAPI parts of the sharing controls: key rotation, PATCH, the password of a protected
snapshot (its header, its 401 and 429), and the viewer's password form."""

from __future__ import annotations

from ...sharing.passwords import MAX_LENGTH, MIN_LENGTH
from ..parsing import MAX_NAME_LENGTH
from .components import (
    JSON_TYPE,
    OPTIONAL_TOKEN,
    RETRY_AFTER,
    SCHEMAS,
    STORAGE,
    TOKEN,
    Json,
    error,
    forbidden,
    json_response,
    ref,
    text_response,
)

PASSWORD_SCHEMA: Json = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}

PASSWORD_HEADER: Json = {
    "name": "X-Snapshot-Password",
    "in": "header",
    "required": False,
    "description": "The password of a protected snapshot (Authorization keeps its meaning: "
    "the token). Not needed with a valid access cookie from the viewer's password form",
    "schema": {"type": "string"},
}

_CHALLENGE: Json = {
    "WWW-Authenticate": {
        "schema": {"type": "string"},
        "description": 'Bearer (the token), or SnapshotPassword realm="snapshot"',
    }
}
VIEW_401 = error(
    'No token (when needed) or a bad one; or "Password required": a protected snapshot '
    "without a valid access cookie or the right X-Snapshot-Password (answered private, "
    "no-store)",
    headers=_CHALLENGE,
)
WRONG_PASSWORDS = (
    "Too many wrong passwords for this snapshot from this address ([sharing] "
    "password_attempts, always on), or too many lookups of unknown keys "
    "([limits] unknown_keys_per_address)"
)
VIEW_429 = error(WRONG_PASSWORDS, headers=RETRY_AFTER)

NEEDS_WRITE = error("No token, or a malformed, unknown or revoked one", headers=_CHALLENGE)
OWNER_403 = forbidden("the token lacks snapshots:write", "neither creator nor org Admin")
NOT_FOUND = error(
    "Unknown, expired or deleted key, or another org's snapshot. The key may be a rotated "
    "key still in its grace period: the change applies to the snapshot it now points at"
)
EXTERNAL_409 = error("An external snapshot: change it on the server it was published to")
KEY_PATH: Json = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The snapshot's view key",
    "schema": {"type": "string"},
}
_BODY_ERRORS = {
    "408": error("The body took longer than [limits] body_timeout to arrive"),
    "413": error("A body over 64 KiB"),
    "415": error("A Content-Encoding other than gzip or deflate"),
}

SCHEMAS.update(
    {
        "RotateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "graceSeconds": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Seconds the old key keeps working (default 0: it stops at "
                    "once); at most [sharing] max_grace_seconds",
                }
            },
        },
        "Rotated": {
            "type": "object",
            "required": ["key", "url", "id"],
            "additionalProperties": False,
            "description": "As a create answers, without the deleteKey: it is unchanged (only "
            "its hash is kept), and the deleteUrl held since the create still deletes",
            "properties": {
                "key": {"type": "string", "description": "The new view key"},
                "url": {"type": "string", "format": "uri", "description": "The new page"},
                "id": {"type": "integer", "minimum": 1},
            },
        },
        "UpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "description": "Unknown fields are refused (400), unlike on create",
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": MAX_NAME_LENGTH,
                    "description": 'Empty: "Unnamed snapshot"',
                },
                "expires": {
                    "type": "integer",
                    "description": "A new lifetime, in seconds from now, by the create body's "
                    "rules (0 or negative: never, or snapshots.max_expires when set)",
                },
                "password": {
                    "oneOf": [PASSWORD_SCHEMA, {"type": "null"}],
                    "description": "A new password, or null to remove it",
                },
            },
        },
    }
)

ROTATE: Json = {
    "operationId": "rotateSnapshotKey",
    "summary": "Give a snapshot a new view key (creator or org Admin)",
    "description": "The old key stops working at once, or after graceSeconds; the old URLs "
    "are purged from CDN caches. The deleteKey, password and everything else stay. An "
    "access cookie is bound to the key it was granted for: the new key asks for the "
    "password again.",
    "security": TOKEN,
    "parameters": [KEY_PATH],
    "requestBody": {"required": False, "content": {JSON_TYPE: {"schema": ref("RotateRequest")}}},
    "responses": {
        "200": json_response("Rotated", ref("Rotated")),
        "400": error(
            "A body that is not a JSON object, an unknown field, graceSeconds out of range"
        ),
        "401": NEEDS_WRITE,
        "403": OWNER_403,
        "404": NOT_FOUND,
        "409": EXTERNAL_409,
        **_BODY_ERRORS,
        "503": STORAGE,
    },
}

UPDATE: Json = {
    "operationId": "updateSnapshot",
    "summary": "Change a snapshot's name, expiry or password (creator or org Admin)",
    "description": "updated changes; id, key, created, org and user never do. CDN caches of "
    "the snapshot are purged. A password change does not sign out browsers holding an access "
    "cookie: rotate the key for that.",
    "security": TOKEN,
    "parameters": [KEY_PATH],
    "requestBody": {"required": True, "content": {JSON_TYPE: {"schema": ref("UpdateRequest")}}},
    "responses": {
        "200": json_response("The snapshot as the list shows it", ref("SnapshotListItem")),
        "400": error(
            "A body that is not a JSON object, empty, with an unknown field or a bad value (named)"
        ),
        "401": NEEDS_WRITE,
        "403": OWNER_403,
        "404": NOT_FOUND,
        "409": EXTERNAL_409,
        **_BODY_ERRORS,
        "503": STORAGE,
    },
}

PAGE_ERROR = "The viewer's HTML error page: "

UNLOCK: Json = {
    "operationId": "unlockViewerPage",
    "summary": "The password form of a protected snapshot's page (for browsers)",
    "description": "Form-encoded password and csrf (the token in the locked page's form, "
    "with the cookie that came with it). A right password sets an HttpOnly, SameSite=Strict "
    "access cookie scoped to the snapshot's paths and redirects (303) to the page; a wrong "
    "one shows the form again (401) and sets nothing.",
    "security": OPTIONAL_TOKEN,
    "parameters": [KEY_PATH],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"password": {"type": "string"}, "csrf": {"type": "string"}},
                }
            }
        },
    },
    "responses": {
        "303": {
            "description": "Right password (or none needed): to the page",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        "400": error(PAGE_ERROR + "a password over the longest allowed", page=True),
        "401": text_response("Wrong password: the form again", "text/html"),
        "403": error(
            PAGE_ERROR + "another origin, a missing or stale CSRF token, or not allowed",
            page=True,
        ),
        "404": error(PAGE_ERROR + "unknown, expired or deleted key", page=True),
        **{
            s: {**r, "content": {"text/html": {"schema": {"type": "string"}}}}
            for s, r in _BODY_ERRORS.items()
        },
        "429": error(PAGE_ERROR + WRONG_PASSWORDS, page=True, headers=RETRY_AFTER),
        "503": error(PAGE_ERROR + "storage unreachable", page=True),
    },
}
