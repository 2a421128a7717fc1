"""The one place purge requests touch the network: send, classify the status, read
``Retry-After``. Every purger goes through ``send`` so retry rules are identical for all."""

from __future__ import annotations

import email.utils
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC

import aiohttp

from .base import PurgeError

RETRYABLE_STATUSES = frozenset({408, 429})
"""Besides every 5xx: a timeout the server owned up to, and "slow down"."""

_MAX_BODY = 64 * 1024  # an API answer, not a download; the rest is never needed


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    time_limit: float,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    ok: Collection[int] = (),
) -> Response:
    """Send one request, bounded by ``time_limit`` seconds in all, and return the response
    when its status is 2xx or in ``ok``.

    Raises ``PurgeError``: retryable for connection errors, timeouts, 408, 429 and 5xx (with
    the ``Retry-After`` header attached); not retryable for any other status, including 3xx
    (redirects are not followed: a purge endpoint that redirects is misconfigured).
    """
    try:
        async with session.request(
            method,
            url,
            headers=dict(headers or {}),
            data=body,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=time_limit),
        ) as resp:
            content = await _read_at_most(resp.content, _MAX_BODY)
            status = resp.status
            retry_after = resp.headers.get("Retry-After")
    except (aiohttp.ClientError, OSError) as exc:
        raise PurgeError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
    except TimeoutError as exc:
        raise PurgeError(f"no answer within {time_limit:g} s", retryable=True) from exc
    if 200 <= status < 300 or status in ok:
        return Response(status, content)
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    raise PurgeError(
        f"HTTP {status}{_excerpt(content)}",
        retryable=retryable,
        status=status,
        retry_after=retry_after if retryable else None,
    )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date, RFC 9110
    §10.2.3), never negative; ``None`` when absent or unparseable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT anyway
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    # StreamReader.read(n) returns whatever chunk is buffered, not n bytes: loop to EOF.
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""
