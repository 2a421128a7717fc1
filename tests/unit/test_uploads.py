"""UploadGate: bytes of bodies in flight never exceed the capacity; waiters are admitted in
arrival order; a waiter that gives up (time out, client gone) holds nothing."""

from __future__ import annotations

import asyncio

import pytest

from snapshot_server.errors import ServerBusy
from snapshot_server.webapp.uploads import UploadGate


async def test_reservations_never_exceed_the_capacity_and_are_released() -> None:
    gate = UploadGate(100)
    async with gate.hold(60, wait=1):
        assert gate.reserved == 60
        async with gate.hold(40, wait=1):
            assert gate.reserved == 100
    assert gate.reserved == 0


async def test_waiters_are_admitted_in_arrival_order() -> None:
    gate = UploadGate(100)
    order: list[str] = []
    release = asyncio.Event()

    async def upload(name: str, size: int) -> None:
        async with gate.hold(size, wait=5):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(upload("first", 80))
    await asyncio.sleep(0)
    big = asyncio.create_task(upload("big", 90))  # waits for the first
    await asyncio.sleep(0)
    small = asyncio.create_task(upload("small", 10))  # would fit, but queues behind "big"
    await asyncio.sleep(0.01)
    assert order == ["first"]
    release.set()
    await asyncio.gather(first, big, small)
    assert order == ["first", "big", "small"]
    assert gate.reserved == 0


async def test_a_waiter_that_times_out_holds_nothing_and_lets_the_next_in() -> None:
    gate = UploadGate(100)
    async with gate.hold(100, wait=1):
        with pytest.raises(ServerBusy) as info:
            async with gate.hold(50, wait=0.05):
                pass
        assert info.value.retry_after is not None
        assert info.value.retry_after >= 1
        assert gate.reserved == 100
    assert gate.reserved == 0


async def test_a_cancelled_waiter_holds_nothing() -> None:
    gate = UploadGate(100)
    async with gate.hold(100, wait=1):
        waiter = asyncio.create_task(gate.hold(10, wait=5).__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert gate.reserved == 0
    async with gate.hold(100, wait=0.1):  # everything is free again
        assert gate.reserved == 100


async def test_an_upload_larger_than_the_capacity_is_admitted_alone() -> None:
    gate = UploadGate(100)
    async with gate.hold(500, wait=1):
        assert gate.reserved == 100
