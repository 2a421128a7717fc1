"""The rate limits of ``[limits]``, counted by the ``limits`` library over a moving window.

    creates_per_token          creates with a token, per token (its org, user and name: never
                               the token itself, nor its hash)
    creates_per_address        anonymous creates (``public_mode``), per client address
    deletes_per_address        ``GET /api/snapshots-delete/{deleteKey}``, per client address:
                               every attempt counts, found or not
    unknown_keys_per_address   lookups of keys that do not exist, per client address: only
                               misses count, but once a miss is refused every lookup from that
                               address is refused until the window allows again, so that
                               guessing keys cannot go on between hits

A refusal is ``TooManyRequests`` naming the limit, with ``retry_after``: the seconds until the
oldest attempt in the window leaves it. A setting of several rates ("10/second;100/hour") is
checked rate by rate, in order; an attempt refused by a later rate has still used up a place in
the earlier ones.

Where the counts live is the storage handed in (``abuse.storage``): this process's memory, or
the configured Redis, shared by every worker and host. The moving window is timed by
``time.time()`` (the library's clock, not the service's): hosts sharing a Redis need their
clocks in step. A storage that cannot be reached makes the request fail with 503, as storage
does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from ..auth import Identity
from ..errors import PublishedElsewhere, SnapshotNotFound, StorageUnavailable, TooManyRequests
from .addresses import Network, limit_key, parse_networks
from .settings import LimitsSettings

T = TypeVar("T")
OnLimited = Callable[[str], None]
"""Told the ``[limits]`` key of every limit that refuses a request (for metrics)."""

MAX_BLOCKED = 100_000  # addresses remembered as refused for lookups; the oldest go first


class Rule:
    """One ``[limits]`` rate: its key, its rates, and what a refusal says."""

    def __init__(self, name: str, rates: str, message: str) -> None:
        self.name = name
        self.items = tuple(limits.parse_many(rates))
        self.message = message

    def refusal(self, item: limits.RateLimitItem, retry_after: int) -> TooManyRequests:
        return TooManyRequests(self.message.format(item), retry_after=retry_after)


class RateLimits:
    def __init__(
        self, settings: LimitsSettings, storage: Storage, on_limited: OnLimited = lambda _: None
    ) -> None:
        self.storage = storage
        self.trusted: tuple[Network, ...] = parse_networks(settings.trusted_proxies)
        self._limiter = MovingWindowRateLimiter(storage)
        self._on_limited = on_limited
        errors = storage.base_exceptions
        self._errors: tuple[type[Exception], ...] = (
            *(errors if isinstance(errors, tuple) else (errors,)),
            OSError,
        )
        self._creates_per_token = Rule(
            "creates_per_token",
            settings.creates_per_token,
            "Too many snapshots created: the limit is {} for one token",
        )
        self._creates_per_address = Rule(
            "creates_per_address",
            settings.creates_per_address,
            "Too many snapshots created: the limit is {} from one address",
        )
        self._deletes = Rule(
            "deletes_per_address",
            settings.deletes_per_address,
            "Too many deletes by deleteKey: the limit is {} from one address",
        )
        self._unknown_keys = Rule(
            "unknown_keys_per_address",
            settings.unknown_keys_per_address,
            "Too many lookups of unknown snapshots: the limit is {} from one address",
        )
        # Addresses whose last miss was refused: until when (time.time()) they are, and why.
        self._blocked: dict[str, tuple[float, str]] = {}

    async def create(self, identity: Identity, address: str) -> None:
        """Count a create by ``identity`` from ``address`` (the client address); raise
        ``TooManyRequests`` if that is one too many."""
        if identity.anonymous:
            await self._hit(self._creates_per_address, limit_key(address))
        else:
            token = f"{identity.org_id}:{identity.user_id}:{identity.name}"
            await self._hit(self._creates_per_token, token)

    async def delete_attempt(self, address: str) -> None:
        """Count a delete by deleteKey from ``address``; raise ``TooManyRequests`` if that is
        one too many."""
        await self._hit(self._deletes, limit_key(address))

    async def lookup(self, address: str, find: Callable[[], Awaitable[T]]) -> T:
        """``await find()``, a lookup by key from ``address``, unless that address is refused;
        a miss (``SnapshotNotFound``) counts, and the one that is too many is refused too.
        Raises ``TooManyRequests``, or what ``find`` raises."""
        key = limit_key(address)
        blocked = self._blocked.get(key)
        if blocked is not None:
            until, message = blocked
            if until > time.time():
                self._on_limited(self._unknown_keys.name)
                raise TooManyRequests(message, retry_after=_seconds_until(until))
            del self._blocked[key]
        try:
            return await find()
        except PublishedElsewhere:
            raise  # a real key (of an external snapshot): not a guess
        except SnapshotNotFound:
            try:
                await self._hit(self._unknown_keys, key)
            except TooManyRequests as refused:
                self._block(key, time.time() + (refused.retry_after or 1), refused.message)
                raise
            raise

    async def _hit(self, rule: Rule, who: str) -> None:
        for item in rule.items:
            try:
                if await self._limiter.hit(item, rule.name, who):
                    continue
                stats = await self._limiter.get_window_stats(item, rule.name, who)
            except self._errors as exc:
                raise StorageUnavailable() from exc
            self._on_limited(rule.name)
            raise rule.refusal(item, _seconds_until(stats.reset_time))

    def _block(self, key: str, until: float, message: str) -> None:
        if len(self._blocked) >= MAX_BLOCKED:
            now = time.time()
            self._blocked = {k: b for k, b in self._blocked.items() if b[0] > now}
            while len(self._blocked) >= MAX_BLOCKED:
                # Forgetting one only lets its hits through until its next refused miss.
                del self._blocked[next(iter(self._blocked))]
        self._blocked[key] = (until, message)


def _seconds_until(moment: float) -> int:
    """Whole seconds for Retry-After: strictly after ``moment`` (an attempt made at the very
    instant the oldest one leaves the window still finds it there), and at least 1."""
    return max(1, math.floor(moment - time.time()) + 1)
