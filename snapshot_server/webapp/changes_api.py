"""The JSON API's handlers for changing a snapshot: ``POST /api/snapshots/{key}/rotate`` and
``PATCH /api/snapshots/{key}``, and their bodies' validation.

Unlike the create body (whose unknown fields Grafana's clients rely on being ignored), these
bodies are new: an unknown field or a wrong type is a 400 naming it, so a typo never passes
for "no change".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ..errors import InvalidSnapshot
from ..models import UNCHANGED, SnapshotMeta, Unchanged
from ..sharing.changes import UpdateRequest
from ..sharing.passwords import check_password
from .api import list_item
from .appkeys import CONFIG, SERVICE
from .parsing import parse_name
from .request_body import read_body
from .requests import identity_of
from .responses import PRIVATE_NO_STORE, json_response

MAX_CHANGE_BODY = 64 * 1024  # a name, a number and a password: far less than this
PATCH_FIELDS = ("name", "expires", "password")


async def rotate_snapshot(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    service.authorize_write(identity_of(request))  # before the body is read
    body = await _read_object(request, empty_allowed=True)
    grace = parse_rotate_body(body, request.app[CONFIG].sharing.max_grace_seconds)
    rotated = await service.rotate(identity_of(request), request.match_info["key"], grace)
    # As create answers, but without the deleteKey: only its hash is stored, and it is
    # unchanged (the deleteUrl the creator holds still deletes the snapshot).
    return json_response(
        {"key": rotated.key, "url": service.view_url(rotated.key), "id": rotated.id},
        cache_control=PRIVATE_NO_STORE,
    )


async def update_snapshot(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    service.authorize_write(identity_of(request))
    changes = parse_update_body(await _read_object(request, empty_allowed=False))
    updated = await service.update(identity_of(request), request.match_info.get("key", ""), changes)
    return json_response(_item(request, updated), cache_control=PRIVATE_NO_STORE)


def _item(request: web.Request, meta: SnapshotMeta) -> dict[str, Any]:
    return list_item(request.app[SERVICE].shown_expiry(meta), meta)


async def _read_object(request: web.Request, *, empty_allowed: bool) -> dict[str, Any]:
    wait = request.app[CONFIG].limits.body_timeout
    raw = await read_body(request, MAX_CHANGE_BODY, within=wait)
    if not raw.strip() and empty_allowed:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidSnapshot("bad request data") from exc
    if not isinstance(body, dict):
        raise InvalidSnapshot("bad request data")
    return body


def _no_unknown(body: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for field in body:
        if field not in known:
            raise InvalidSnapshot(f"unknown field {field!r}: expected {', '.join(known)}")


def parse_rotate_body(body: Mapping[str, Any], max_grace: int) -> int:
    """``{"graceSeconds": N}`` (optional; 0 to ``max_grace``): how long the old key works."""
    _no_unknown(body, ("graceSeconds",))
    grace = body.get("graceSeconds", 0)
    if grace is None:
        return 0
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= max_grace:
        raise InvalidSnapshot(
            f"graceSeconds must be an integer from 0 to {max_grace} (sharing.max_grace_seconds)"
        )
    return grace


def parse_update_body(body: Mapping[str, Any]) -> UpdateRequest:
    """A PATCH body: ``name`` (as on create), ``expires`` (integer seconds from now, as on
    create: 0 or less is never), ``password`` (a new one, or ``null`` to remove it)."""
    _no_unknown(body, PATCH_FIELDS)
    if not body:
        raise InvalidSnapshot(f"nothing to change: give at least one of {', '.join(PATCH_FIELDS)}")
    if "name" in body and body["name"] is None:
        raise InvalidSnapshot("name must be a string")
    name = parse_name(body["name"]) if "name" in body else None
    expires = body.get("expires")
    if "expires" in body and (isinstance(expires, bool) or not isinstance(expires, int)):
        raise InvalidSnapshot("expires must be an integer number of seconds")
    password: str | Unchanged | None = UNCHANGED
    if "password" in body:
        password = None if body["password"] is None else check_password(body["password"])
    return UpdateRequest(name=name, expires=expires, password=password)
