"""Background delivery of purges: a bounded queue, a few workers, retries with backoff.

``submit`` is called on the delete path, so it only builds an event and ``put_nowait``s it:
it never awaits, never raises, and drops (logged, counted) when the queue is full. Workers take
whatever is queued (up to ``batch_size`` events) so a burst of deletes becomes a few API calls
where the API allows batching (Cloudflare: 100 URLs a call), then send every delivery of every
purger concurrently, each retried on its own.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from ..clock import Clock, Sleep, system_clock
from ..logs import hide_secrets, secret_ref
from ..urls import cached_urls, public_root
from .base import Delivery, PurgeError, PurgeEvent, Purger
from .transport import parse_retry_after

log = logging.getLogger("snapshot_server.purge")

BASE_DELAY = 0.5  # seconds before the first retry (before jitter); doubles on each failure
MAX_DELAY = 60.0  # the longest wait between two attempts: caps the backoff and Retry-After
USER_AGENT = "snapshot-server-purge/1"


PURGE_OUTCOMES = ("submitted", "dropped", "attempted", "succeeded", "failed", "retried")


@dataclass(slots=True)
class PurgeStats:
    """Counters for metrics. ``submitted``/``dropped`` count events (one per deleted key);
    ``attempted`` counts requests sent (every try of every delivery); ``succeeded``/``failed``/
    ``retried`` count deliveries (one request of one purger) and retry attempts. A dropped
    event is one never queued (queue full, or submitted after shutdown) or still queued when
    the shutdown bound ran out.

    ``on_count(outcome)``, when set, is called after each count (metrics follow the counts as
    they happen, so that several worker processes' counts can be summed)."""

    submitted: int = 0
    dropped: int = 0
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    on_count: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def count(self, outcome: str) -> None:
        """One more ``outcome`` (one of ``PURGE_OUTCOMES``)."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        if self.on_count is not None:
            self.on_count(outcome)


def backoff_delay(
    attempt: int, *, base: float, cap: float, rand: float, retry_after: float | None = None
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    With a ``Retry-After`` the server's word is taken (capped at ``cap``); otherwise exponential
    backoff ``base * 2**(attempt-1)`` capped at ``cap``, with "equal jitter": a uniformly random
    point of its upper half (``rand`` in [0, 1)), so retries of many purges spread out but
    never come back sooner than half the backoff.
    """
    if retry_after is not None:
        return min(retry_after, cap)
    backoff = min(cap, base * 2.0 ** (attempt - 1))
    return backoff / 2 + rand * backoff / 2


class PurgeDispatcher:
    """Runs purges in the background; see the module docstring for the contract. ``root_url``
    is the public base URL the purged URLs are built on; ``sleep`` waits out each backoff and
    ``random`` draws its jitter (tests inject both)."""

    def __init__(
        self,
        purgers: Sequence[Purger],
        *,
        root_url: str,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        queue_size: int = 10_000,
        workers: int = 4,
        batch_size: int = 50,
    ) -> None:
        self.purgers = tuple(purgers)
        self.stats = PurgeStats()
        self._root_url = public_root(root_url)
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._queue: asyncio.Queue[PurgeEvent] = asyncio.Queue(maxsize=queue_size)
        self._n_workers = workers
        self._batch_size = batch_size
        self._session: aiohttp.ClientSession | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False

    @property
    def pending(self) -> int:
        """Events queued and not yet taken by a worker."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the HTTP session and start the workers. Call once, inside the running loop."""
        if self._session is not None:
            raise RuntimeError("PurgeDispatcher already started")
        self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        self._workers = [
            asyncio.create_task(self._work(), name=f"purge-worker-{i}")
            for i in range(self._n_workers)
        ]

    def submit(self, key: str, reason: str) -> None:
        """Queue the purge of every cached URL of ``key``. Never blocks and never raises: when
        the queue is full or the dispatcher is closed the purge is dropped, logged and counted.
        """
        try:
            if self._closed:
                self._drop(key, reason, "dispatcher is shut down")
                return
            event = PurgeEvent(key, reason, cached_urls(self._root_url, key), self._clock())
            self._queue.put_nowait(event)
            self.stats.count("submitted")
        except asyncio.QueueFull:
            self._drop(key, reason, f"queue full ({self._queue.maxsize} pending)")
        except Exception:  # a purge must never fail the delete that asked for it
            self.stats.count("dropped")
            log.exception("purge of snapshot %s (%s) not queued", secret_ref(key), reason)

    async def join(self) -> None:
        """Return once every queued event has been fully handled (succeeded or failed).
        Unbounded: callers that need a bound wrap it in ``asyncio.timeout``."""
        await self._queue.join()

    # ``timeout`` is a budget for flushing, not a cancel scope around the call (ASYNC109).
    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Stop taking purges, give pending ones up to ``timeout`` seconds to finish, then
        cancel what is left (in-flight deliveries count as failed, queued events as dropped)
        and close the session. Never raises for a purge that failed."""
        self._closed = True
        if self._workers:
            try:
                async with asyncio.timeout(timeout):
                    await self._queue.join()
            except TimeoutError:
                log.warning(
                    "purge: shutdown bound of %g s reached with %d event(s) still queued",
                    timeout,
                    self._queue.qsize(),
                )
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            self._drop(event.key, event.reason, "not sent before shutdown")
        if self._session is not None:
            await self._session.close()

    def _drop(self, key: str, reason: str, why: str) -> None:
        self.stats.count("dropped")
        log.warning("purge of snapshot %s (%s) dropped: %s", secret_ref(key), reason, why)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._purge(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _purge(self, events: list[PurgeEvent]) -> None:
        jobs: list[Awaitable[None]] = []
        for purger in self.purgers:
            try:
                deliveries = purger.deliveries(events)
            except Exception:
                self.stats.count("failed")
                log.exception("purger %s could not build its requests", purger.name)
                continue
            keys = [event.key for event in events]
            jobs.extend(self._deliver(purger, d, keys) for d in deliveries)
        await asyncio.gather(*jobs)

    async def _deliver(self, purger: Purger, delivery: Delivery, keys: list[str]) -> None:
        """Send ``delivery`` (of the snapshots ``keys``) until it succeeds or gives up; the
        log names it by its target with each key hidden (``logs.secret_ref``)."""
        assert self._session is not None
        attempt = 0
        target = hide_secrets(delivery.target, keys)
        try:
            while True:
                attempt += 1
                self.stats.count("attempted")
                try:
                    await delivery.send(self._session)
                except PurgeError as exc:
                    why = hide_secrets(str(exc), keys)
                    if not exc.retryable or attempt >= purger.max_attempts:
                        self._failed(purger, target, attempt, why)
                        return
                    delay = backoff_delay(
                        attempt,
                        base=BASE_DELAY,
                        cap=MAX_DELAY,
                        rand=self._random(),
                        retry_after=parse_retry_after(exc.retry_after, self._clock()),
                    )
                    self.stats.count("retried")
                    log.info(
                        "purge %s %s: attempt %d failed (%s), retrying in %.2f s",
                        purger.name,
                        target,
                        attempt,
                        why,
                        delay,
                    )
                    await self._sleep(delay)
                else:
                    self.stats.count("succeeded")
                    log.debug("purged %s %s", purger.name, target)
                    return
        except asyncio.CancelledError:
            self._failed(purger, target, attempt, "abandoned at shutdown")
            raise
        except Exception as exc:  # a purger bug must not kill the worker
            log.exception("purge %s %s: unexpected error", purger.name, target)
            self._failed(purger, target, attempt, hide_secrets(repr(exc), keys))

    def _failed(self, purger: Purger, target: str, attempts: int, why: str) -> None:
        self.stats.count("failed")
        log.warning(
            "purge failed: %s %s after %d attempt(s): %s",
            purger.name,
            target,
            attempts,
            why,
        )
