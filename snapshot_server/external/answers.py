"""What an external snapshot server answers, checked before any of it is trusted.

A remote is another party: its JSON may be anything, and the URLs in it end up in our storage,
in our list answers and as links on our pages. So a URL is kept only if it is an absolute
http(s) URL (never ``javascript:``, ``file:`` or a relative path), and the key only if it is one
we could have issued ourselves (``KEY_RE``), since it becomes the local record's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import orjson

from ..models import KEY_RE

MAX_URL_LENGTH = 2048
MAX_DELETE_KEY_LENGTH = 256  # Grafana's are 32 characters
COMPAT_GONE_MESSAGE = "Failed to get dashboard snapshot"
"""The 500 message Grafana's client reads as "already deleted" (``grafana_external_compat``)."""


class BadAnswer(ValueError):
    """The remote answered, but not what the protocol says; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Published:
    """The fields Grafana reads from a create answer, each one checked."""

    key: str
    delete_key: str
    url: str
    delete_url: str


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host and nothing a header or a link
    could be abused with (whitespace, control characters, credentials); else ``None``."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if not value.isprintable() or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return value


def _token_like(value: object) -> TypeGuard[str]:
    """A short printable string without whitespace: a deleteKey may become part of the URL
    this server calls to delete (``settings.delete_url``)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_DELETE_KEY_LENGTH
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


def parse_created(raw: bytes) -> Published:
    """The create answer ``raw`` (the body of a 200). Raises ``BadAnswer`` naming the first
    missing or unusable field."""
    body = _json_object(raw)
    key = body.get("key")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise BadAnswer("its answer has no usable 'key'")
    delete_key = body.get("deleteKey")
    if not _token_like(delete_key):
        raise BadAnswer("its answer has no usable 'deleteKey'")
    url = http_url(body.get("url"))
    if url is None:
        raise BadAnswer("its answer's 'url' is missing or not an absolute http(s) URL")
    delete_url = http_url(body.get("deleteUrl"))
    if delete_url is None:
        raise BadAnswer("its answer's 'deleteUrl' is missing or not an absolute http(s) URL")
    return Published(key=key, delete_key=delete_key, url=url, delete_url=delete_url)


def is_deleted(status: int, raw: bytes) -> bool:
    """Grafana's rule for a delete answer: 200, or a 500 whose JSON ``message`` is exactly
    ``COMPAT_GONE_MESSAGE`` (the remote no longer has it, so there is nothing left to delete)."""
    if status == 200:
        return True
    if status != 500:
        return False
    try:
        return _json_object(raw).get("message") == COMPAT_GONE_MESSAGE
    except BadAnswer:
        return False


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadAnswer("its answer is not JSON") from None
    if not isinstance(body, dict):
        raise BadAnswer("its answer is not a JSON object")
    return body
