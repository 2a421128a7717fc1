"""Crash safety of every durable backend: SIGKILL the server (and, for Redis, the redis-server
with appendonly/appendfsync always) at random moments under concurrent creates and deletes,
restart on the same storage, and check that

* every acknowledged (HTTP 200) create is readable with byte-identical dashboard,
* every acknowledged delete stays deleted,
* no read, during the load or after the restart, returns a partial record: a create whose answer
  was lost is either absent or complete.

Rounds and load are bounded (``CRASH_ROUNDS``, default 10 per backend) to keep CI short.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.processes import EDITOR_TOKEN, ServerProcess
from tests.redis_servers import RedisServer, free_port
from tests.support import skip_or_fail

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "10"))
HEADERS = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
PREFIX_END = b',"dashboard":'


@dataclass
class Ledger:
    """What the client knows: bodies it sent, and which operations were acknowledged."""

    sent: dict[str, bytes] = field(default_factory=dict)  # key -> dashboard bytes posted
    delete_keys: dict[str, str] = field(default_factory=dict)
    acked_creates: set[str] = field(default_factory=set)
    acked_deletes: set[str] = field(default_factory=set)
    tried_deletes: set[str] = field(default_factory=set)  # answered or not: outcome unknown
    reads_checked: int = 0


def dashboard_bytes(rng: random.Random, key: str) -> bytes:
    size = rng.choice([10, 200, 5_000, 50_000])
    values = [rng.random() for _ in range(size)]
    return orjson.dumps({"title": key, "panels": [{"id": 1, "values": values}]})


def dashboard_of(body: bytes) -> bytes:
    """The dashboard bytes of a view response, exactly as the server sent them."""
    start = body.index(PREFIX_END) + len(PREFIX_END)
    assert body.endswith(b"}")
    return body[start:-1]


async def check_read(session: aiohttp.ClientSession, base: str, key: str, ledger: Ledger) -> int:
    """GET a key: 404, or 200 with exactly the bytes that were posted. Returns the status."""
    async with session.get(f"{base}api/snapshots/{key}") as response:
        body = await response.read()
        if response.status == 200:
            assert dashboard_of(body) == ledger.sent[key], f"partial or wrong record for {key}"
            orjson.loads(body)  # the whole answer is valid JSON too
        else:
            assert response.status == 404, (response.status, body[:200])
        ledger.reads_checked += 1
        return response.status


async def load(base: str, ledger: Ledger, rng: random.Random, round_no: int) -> None:
    """Creates, deletes and reads from 8 concurrent clients until the server dies."""
    connector = aiohttp.TCPConnector(limit=16, force_close=True)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client(worker: int) -> None:
            for n in range(10_000):
                key = f"r{round_no}w{worker}n{n}"
                try:
                    if ledger.acked_creates and rng.random() < 0.3:
                        victim = rng.choice(sorted(ledger.acked_creates - ledger.acked_deletes))
                        url = f"{base}api/snapshots-delete/{ledger.delete_keys[victim]}"
                        ledger.tried_deletes.add(victim)
                        async with session.get(url) as response:
                            if response.status == 200:
                                ledger.acked_deletes.add(victim)
                    elif ledger.acked_creates and rng.random() < 0.3:
                        victim = rng.choice(sorted(ledger.acked_creates - ledger.acked_deletes))
                        status = await check_read(session, base, victim, ledger)
                        assert status == 200 or victim in ledger.tried_deletes
                    else:
                        dashboard = dashboard_bytes(rng, key)
                        ledger.sent[key] = dashboard
                        ledger.delete_keys[key] = f"del-{key}"
                        body = b'{"key":"%s","deleteKey":"del-%s","dashboard":%s}' % (
                            key.encode(), key.encode(), dashboard,
                        )  # fmt: skip
                        async with session.post(
                            f"{base}api/snapshots", data=body, headers=HEADERS
                        ) as response:
                            if response.status == 200:
                                ledger.acked_creates.add(key)
                            else:
                                assert response.status >= 500, await response.text()
                except (TimeoutError, aiohttp.ClientError, IndexError):
                    return  # the server died under us: this client's round is over

        await asyncio.gather(*(client(w) for w in range(8)))


async def verify(base: str, ledger: Ledger) -> None:
    async with aiohttp.ClientSession() as session:
        for key in ledger.sent:
            status = await check_read(session, base, key, ledger)
            if key in ledger.acked_deletes:
                assert status == 404, f"acknowledged delete of {key} came back"
            elif key in ledger.acked_creates and key not in ledger.tried_deletes:
                assert status == 200, f"acknowledged create of {key} was lost"


@dataclass
class Durable:
    """A backend under test: its config, and hooks run around each kill."""

    toml: str
    killed: Callable[[], Awaitable[None]] | None = None  # kill dependent services too
    restart: Callable[[], Awaitable[None]] | None = None


@pytest.fixture(params=["sqlite", "filesystem", "redis"])
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Durable]:
    if request.param == "sqlite":
        yield Durable(f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"')
    elif request.param == "filesystem":
        yield Durable(
            f'[storage]\nbackend = "filesystem"\n[storage.filesystem]\npath = "{tmp_path}/fs"'
        )
    else:
        if shutil.which("redis-server") is None:
            skip_or_fail("redis-server not installed")
        server = RedisServer(
            tmp_path / "redis", free_port(), "--appendonly", "yes", "--appendfsync", "always"
        )
        server.start()

        async def kill() -> None:
            await asyncio.to_thread(server.stop)

        async def restart() -> None:
            await asyncio.to_thread(server.start)

        try:
            yield Durable(
                f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{server.url}"\n'
                'key_prefix = "crash:"',
                killed=kill,
                restart=restart,
            )
        finally:
            server.stop()


async def test_acknowledged_operations_survive_sigkill(durable: Durable, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    ledger = Ledger()
    server = ServerProcess(tmp_path, durable.toml)
    for round_no in range(ROUNDS):
        await server.start()
        if round_no:
            await verify(server.base_url, ledger)  # what survived the previous kill
        load_task = asyncio.create_task(load(server.base_url, ledger, rng, round_no))
        await asyncio.sleep(rng.uniform(0.2, 0.8))  # a random moment in the middle of the load
        await server.kill()
        if durable.killed is not None:
            await durable.killed()
            assert durable.restart is not None
            await durable.restart()
        await asyncio.wait_for(load_task, 30)
    await server.start()
    try:
        await verify(server.base_url, ledger)
    finally:
        await server.stop()
    live = ledger.acked_creates - ledger.acked_deletes
    print(
        f"\ncrash: {ROUNDS} SIGKILL rounds, {len(ledger.acked_creates)} acknowledged creates, "
        f"{len(ledger.acked_deletes)} acknowledged deletes, {len(live)} live records verified, "
        f"{ledger.reads_checked} reads checked, none lost"
    )
    assert len(ledger.acked_creates) >= ROUNDS  # the load really ran in every round
