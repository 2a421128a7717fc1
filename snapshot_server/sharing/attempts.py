"""The rate limit on wrong passwords: per snapshot and client address, always on, whatever
``[limits] enabled`` says (a password that can be guessed at full speed protects nothing).

Counted by the ``limits`` library over a moving window, in the same storage as the other rate
limits when there is one (Redis: every worker and host counts together), else in this
process's memory. Counted under the snapshot's id, never its key (a secret). Only wrong
answers count; once they reach the limit, every answer for that snapshot from that address,
right or wrong, is refused until the window allows again, so a guesser learns nothing from it.

Attempts for one snapshot from one address take turns (``turn``) within a process: checked,
verified and counted one after the other, so a burst of concurrent guesses cannot all pass the
check before the first of them is counted. (Across ``serve --workers N`` at most N overlap.)

When the counts live in each process's memory (no Redis) and ``serve --workers N`` runs N
processes, each process allows only its share of every rate (``amount // N``, at least 1): a
guesser whose connections land on every worker still gets no more than the configured rate in
all, where whole rates per process would give N times it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from ..abuse.addresses import limit_key
from ..errors import StorageUnavailable, TooManyRequests

RULE = "password_attempts"
MESSAGE = "Too many wrong passwords: the limit is {} for one snapshot from one address"


class PasswordAttempts:
    def __init__(self, rates: str, storage: Storage, *, processes: int = 1) -> None:
        """``processes``: how many processes count apart, each in its own ``storage`` (see
        the module docstring); 1 when the storage is shared."""
        self.storage = storage
        self._items = tuple(_share(item, processes) for item in limits.parse_many(rates))
        self._limiter = MovingWindowRateLimiter(storage)
        errors = storage.base_exceptions
        self._errors: tuple[type[Exception], ...] = (
            *(errors if isinstance(errors, tuple) else (errors,)),
            OSError,
        )
        self._turns: dict[str, _Turn] = {}

    async def check(self, snapshot_id: int, address: str) -> None:
        """Raise ``TooManyRequests`` (with ``retry_after``) if ``address`` may not try a
        password for snapshot ``snapshot_id`` now."""
        who = self._who(snapshot_id, address)
        for item in self._items:
            try:
                if await self._limiter.test(item, RULE, who):
                    continue
                stats = await self._limiter.get_window_stats(item, RULE, who)
            except self._errors as exc:
                raise StorageUnavailable() from exc
            raise TooManyRequests(
                MESSAGE.format(item), retry_after=_seconds_until(stats.reset_time)
            )

    async def failed(self, snapshot_id: int, address: str) -> None:
        """Count a wrong password from ``address`` for snapshot ``snapshot_id``."""
        who = self._who(snapshot_id, address)
        for item in self._items:
            try:
                await self._limiter.hit(item, RULE, who)
            except self._errors as exc:
                raise StorageUnavailable() from exc

    @contextlib.asynccontextmanager
    async def turn(self, snapshot_id: int, address: str) -> AsyncIterator[None]:
        """Hold the turn of ``address`` for snapshot ``snapshot_id``: check, verify and count
        inside it."""
        who = self._who(snapshot_id, address)
        turn = self._turns.get(who)
        if turn is None:
            turn = self._turns[who] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            # Forgotten once nobody holds or waits for it (counted: a released lock reads as
            # unlocked before its next waiter runs, and a latecomer must still queue behind
            # that waiter): the map holds only addresses trying right now.
            turn.users -= 1
            if turn.users == 0:
                del self._turns[who]

    @staticmethod
    def _who(snapshot_id: int, address: str) -> str:
        return f"{snapshot_id}:{limit_key(address)}"


class _Turn:
    """One (snapshot, address)'s lock, and how many attempts hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def _seconds_until(moment: float) -> int:
    return max(1, math.floor(moment - time.time()) + 1)


def _share(item: limits.RateLimitItem, processes: int) -> limits.RateLimitItem:
    """``item`` with the amount one of ``processes`` independent counters may allow."""
    if processes <= 1:
        return item
    return type(item)(max(1, item.amount // processes), item.multiples, item.namespace)
