"""The purge contract: what a purge is about (``PurgeEvent``), how one is delivered
(``Purger`` → ``Delivery``), and how a delivery fails (``PurgeError``).

A ``Purger`` turns a batch of events into independent ``Delivery`` objects (one HTTP request
each); the dispatcher sends and retries every delivery on its own, so one slow cache node or
one failing API call never holds back the others. A delivery object lives for all its attempts,
which is what keeps a webhook's delivery id stable across retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import ClientSession

from ..urls import surrogate_key


@dataclass(frozen=True, slots=True)
class PurgeEvent:
    """One snapshot whose cached copies must go. ``reason`` is ``"delete"`` (DELETE by key),
    ``"delete-key"`` (GET of the deleteUrl) or ``"expired"`` (the cleanup job). Holds no
    secret but the view key itself: never the deleteKey, never the dashboard."""

    key: str
    reason: str
    urls: tuple[str, ...]
    deleted_at: float

    @property
    def surrogate_key(self) -> str:
        """The tag the server put on every cached response for ``key``."""
        return surrogate_key(self.key)


class PurgeError(Exception):
    """A delivery attempt failed.

    ``retryable`` is true for network errors, timeouts, 408, 429 and 5xx: the dispatcher tries
    again after a backoff, or after ``retry_after`` (the raw ``Retry-After`` header value,
    seconds or an HTTP date) when the server sent one. ``status`` is the HTTP status, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class Delivery(Protocol):
    """One request of one purger, retried as a unit."""

    @property
    def target(self) -> str:
        """What the logs name: the URL purged, or the API endpoint called. Never a secret."""
        ...

    async def send(self, session: ClientSession) -> None:
        """Make one attempt. Returns when the cache confirmed the purge; raises ``PurgeError``
        otherwise (and nothing else: transport errors are wrapped)."""
        ...


class Purger(Protocol):
    """A way to purge a CDN or cache (one ``[[cdn.purgers]]`` entry)."""

    @property
    def name(self) -> str:
        """A name for logs, e.g. ``"cloudflare[1]"`` (kind and index in the config)."""
        ...

    @property
    def max_attempts(self) -> int:
        """How many times one delivery is tried in all (at least 1)."""
        ...

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        """The requests that purge every URL of ``events``. Pure: performs no I/O."""
        ...
