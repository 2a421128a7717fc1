"""The rate limits where requests meet them: each function reads the client address off the
request and checks the application's ``RateLimits``, or does nothing at all when limits are
off (``app[RATE_LIMITS]`` is ``None``: no limiter was made)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from ..auth import Identity
from ..webapp.appkeys import RATE_LIMITS
from .addresses import client_address
from .rates import RateLimits

T = TypeVar("T")


def address_of(request: web.Request, limits: RateLimits) -> str:
    """The client address (``addresses.client_address``: ``X-Forwarded-For`` is believed only
    from a trusted proxy)."""
    return client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), limits.trusted
    )


async def check_create(request: web.Request, identity: Identity) -> None:
    """Count a create (before its body is read); raise ``TooManyRequests`` if over a limit."""
    limits = request.app[RATE_LIMITS]
    if limits is not None:
        await limits.create(identity, address_of(request, limits))


async def check_delete(request: web.Request) -> None:
    """Count a delete by deleteKey; raise ``TooManyRequests`` if over the limit."""
    limits = request.app[RATE_LIMITS]
    if limits is not None:
        await limits.delete_attempt(address_of(request, limits))


async def lookup(request: web.Request, find: Callable[[], Awaitable[T]]) -> T:
    """``await find()``, a lookup by key, counting it if it misses (``RateLimits.lookup``)."""
    limits = request.app[RATE_LIMITS]
    if limits is None:
        return await find()
    return await limits.lookup(address_of(request, limits), find)
