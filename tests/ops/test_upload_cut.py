"""``UploadGate.close``, the first step of a shutdown: bodies still arriving are cut short at
once, bodies fully arrived are left to finish, and no new upload starts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol

from snapshot_server.errors import ShuttingDown
from snapshot_server.webapp.uploads import UploadGate


@pytest.fixture
async def connection() -> AsyncIterator[BaseProtocol]:
    """aiohttp's protocol on a real (socketpair) connection, as a request body's is."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    protocol = BaseProtocol(loop)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
    yield protocol
    transport.close()
    theirs.close()


def body(connection: BaseProtocol) -> StreamReader:
    return StreamReader(connection, 1 << 16, loop=asyncio.get_running_loop())


async def test_close_cuts_arriving_bodies_and_keeps_arrived_ones(
    connection: BaseProtocol,
) -> None:
    gate = UploadGate(100)
    arriving, arrived = body(connection), body(connection)
    arriving.feed_data(b"half of it")
    arrived.feed_data(b"all of it")
    arrived.feed_eof()
    async with gate.hold(40, wait=1, body=arriving), gate.hold(40, wait=1, body=arrived):
        assert await arriving.readany() == b"half of it"
        waiting = asyncio.create_task(arriving.readany())
        await asyncio.sleep(0)
        assert gate.close() == 1
        with pytest.raises(ShuttingDown):
            await asyncio.wait_for(waiting, 1)  # woken at once, not after the rest arrives
        assert await arrived.read() == b"all of it"
    assert gate.reserved == 0


async def test_a_closed_gate_refuses_new_uploads_and_waiters() -> None:
    gate = UploadGate(100)
    async with gate.hold(100, wait=1):
        waiter = asyncio.create_task(gate.hold(10, wait=5).__aenter__())
        await asyncio.sleep(0)
        gate.close()
    with pytest.raises(ShuttingDown):
        await asyncio.wait_for(waiter, 1)  # admitted once room came, then refused
    with pytest.raises(ShuttingDown):
        async with gate.hold(10, wait=1):
            pass
    assert gate.reserved == 0
