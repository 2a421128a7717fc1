"""``backends.redis.client.Connection``: a call cancelled while it waits for a connection is
closed, never left behind to warn "coroutine was never awaited" (what a batch of inserts whose
first one failed used to leave: one warning per queued call)."""

from __future__ import annotations

import asyncio
import gc
import inspect

from redis.asyncio import Redis

from backends.redis.client import Connection


async def test_a_call_cancelled_while_queued_is_closed_not_leaked() -> None:
    # Nothing here reaches a server: the gate is what is tested, held by a call of our own.
    connection = Connection(Redis.from_url("redis://127.0.0.1:1/0"), max_connections=1)
    release = asyncio.Event()
    holder = asyncio.create_task(connection.call(release.wait()))
    await asyncio.sleep(0)  # the holder takes the only place

    async def queued_work() -> str:
        return "ran"

    work = queued_work()
    waiter = asyncio.create_task(connection.call(work))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert inspect.getcoroutinestate(work) == inspect.CORO_CLOSED  # never to run, nor warn
    gc.collect()  # an unawaited coroutine would warn here (pytest: filterwarnings = error)

    release.set()
    assert await holder is True
    assert await connection.call(queued_work()) == "ran"  # the place was given back
    await connection.aclose()
