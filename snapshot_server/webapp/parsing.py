"""Request parsing and validation for the API: bytes and query strings in, typed values out.

Everything here raises ``InvalidSnapshot`` (400) with a message that names the offending field, or
what reading the body raises (``request_body``); nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ..capture.member import parse_capture_member
from ..creating import CreateRequest
from ..errors import InvalidSnapshot
from ..models import ListQuery
from ..sharing.passwords import check_password
from .request_body import read_body

MAX_NAME_LENGTH = 255
DEFAULT_NAME = "Unnamed snapshot"
MAX_LIST_LIMIT = 5000
DEFAULT_LIST_LIMIT = 1000
MAX_PAGE = 1_000_000_000


async def read_json_object(
    request: web.Request, max_bytes: int, *, within: float
) -> dict[str, Any]:
    """The request body parsed as a JSON object (``request_body.read_body`` reads it: call this
    only once the caller may send a body).

    Any Content-Type is accepted (``application/json`` with or without ``;charset=``, and curl's
    default form type, since ``curl -d`` users forget the header). Raises what ``read_body``
    raises, and ``InvalidSnapshot`` ("bad request data") for anything that is not a JSON object.
    """
    raw = await read_body(request, max_bytes, within=within)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidSnapshot("bad request data") from exc
    if not isinstance(body, dict):
        raise InvalidSnapshot("bad request data")
    return body


def parse_name(value: object) -> str:
    """A snapshot's ``name`` as the create body has it: ``None`` or empty is the default name."""
    if value is None or value == "":
        return DEFAULT_NAME
    if not isinstance(value, str):
        raise InvalidSnapshot("name must be a string")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidSnapshot(f"name must be at most {MAX_NAME_LENGTH} characters")
    return value


def parse_create_request(body: Mapping[str, Any]) -> CreateRequest:
    """Validate a ``POST /api/snapshots`` body; unknown fields are ignored, as Grafana does
    (but not inside our own ``capture`` member: ``capture.member``)."""
    dashboard = body.get("dashboard")
    if not isinstance(dashboard, dict):
        raise InvalidSnapshot("dashboard is required and must be a JSON object")

    name = parse_name(body.get("name"))

    expires = body.get("expires")
    if expires is None:
        expires = 0
    elif isinstance(expires, bool) or not isinstance(expires, int):
        raise InvalidSnapshot("expires must be an integer number of seconds")

    external = body.get("external")
    if external is None:
        external = False
    elif not isinstance(external, bool):
        raise InvalidSnapshot("external must be true or false")

    return CreateRequest(
        dashboard=dashboard,
        name=name,
        expires=expires,
        external=external,
        key=_optional_key(body, "key"),
        delete_key=_optional_key(body, "deleteKey"),
        password=None if body.get("password") is None else check_password(body["password"]),
        capture=parse_capture_member(body),
    )


def _optional_key(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None  # Grafana sends "key": "" to mean "generate one"
    if not isinstance(value, str):
        raise InvalidSnapshot(f"{field} must be a string")
    return value


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    """``query``, ``limit`` (1-5000, default 1000) and ``page`` (1-based, default 1)."""
    return ListQuery(
        query=params.get("query", ""),
        limit=_bounded_int(params, "limit", DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT),
        page=_bounded_int(params, "page", 1, MAX_PAGE),
    )


def _bounded_int(params: Mapping[str, str], name: str, default: int, highest: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    # Only ASCII digits, and no more significant ones than ``highest`` has: a longer number is
    # out of range anyway, and int() refuses over 4300 digits (ValueError, once a 500).
    digits = raw.lstrip("0")
    if raw.isascii() and raw.isdigit() and len(digits) <= len(str(highest)):
        value = int(digits or "0")
        if 1 <= value <= highest:
            return value
    raise InvalidSnapshot(f"{name} must be an integer between 1 and {highest}")
