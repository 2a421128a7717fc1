"""``sharing.attempts.PasswordAttempts.turn``: attempts for one snapshot from one address take
turns, also when new ones keep arriving while earlier ones wait (a guesser sending a steady
stream, not one burst)."""

from __future__ import annotations

import asyncio

from limits.aio.storage import MemoryStorage

from snapshot_server.errors import TooManyRequests
from snapshot_server.sharing.attempts import PasswordAttempts


async def test_a_latecomer_waits_for_the_turns_queued_before_it() -> None:
    attempts = PasswordAttempts("3/minute", MemoryStorage())
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    release = {name: asyncio.Event() for name in ("first", "second", "third")}

    async def attempt(name: str) -> None:
        async with attempts.turn(1, "127.0.0.1"):
            inside.append(name)
            overlaps.append(tuple(inside))
            await release[name].wait()
            inside.remove(name)

    first = asyncio.create_task(attempt("first"))
    await asyncio.sleep(0)  # first holds the turn
    second = asyncio.create_task(attempt("second"))
    await asyncio.sleep(0)  # second waits for it
    release["first"].set()
    await first  # its turn ends while second is still waiting to be woken
    third = asyncio.create_task(attempt("third"))
    for _ in range(5):
        await asyncio.sleep(0)
    release["second"].set()
    release["third"].set()
    await asyncio.gather(second, third)
    assert all(len(together) == 1 for together in overlaps), overlaps
    # Another snapshot, or another address, never waits for these.
    async with attempts.turn(2, "127.0.0.1"), attempts.turn(1, "127.0.0.2"):
        pass


async def allowed(attempts: PasswordAttempts, tries: int) -> int:
    """How many of ``tries`` wrong passwords ``attempts`` lets through before it refuses."""
    passed = 0
    for _ in range(tries):
        try:
            await attempts.check(7, "127.0.0.1")
        except TooManyRequests:
            break
        await attempts.failed(7, "127.0.0.1")
        passed += 1
    return passed


async def test_workers_counting_apart_allow_the_configured_rate_in_all() -> None:
    """``serve --workers 3`` on sqlite: each worker counts in its own memory, so each allows a
    third of the rate, and a guesser spread over all three still gets 6 in all, not 18."""
    workers = [PasswordAttempts("6/minute", MemoryStorage(), processes=3) for _ in range(3)]
    assert [await allowed(worker, 10) for worker in workers] == [2, 2, 2]
    # One process (or a shared storage) keeps the whole rate; a share is never 0.
    assert await allowed(PasswordAttempts("6/minute", MemoryStorage()), 10) == 6
    assert await allowed(PasswordAttempts("2/minute", MemoryStorage(), processes=4), 10) == 1
