"""``sharing.attempts.PasswordAttempts.turn``: attempts for one snapshot from one address take
turns, also when new ones keep arriving while earlier ones wait (a guesser sending a steady
stream, not one burst)."""

from __future__ import annotations

import asyncio

from limits.aio.storage import MemoryStorage

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
