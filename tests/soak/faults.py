"""The faults the soak injects around a running server, at evenly spaced moments of the run.

* ``RedisFaults``, two in turn. A restart: the redis-server (``appendonly yes``, ``appendfsync
  always``) is killed, SIGKILL and SIGTERM in turn, and started again ``DOWN_SECONDS`` later on
  the same port with the same AOF directory. Meanwhile the server must answer 503 (never 500)
  and stay up; afterwards it must recover by itself (no restart), and every acknowledged write
  must have survived. Connection kills: every connection the server has to Redis is killed
  (``CLIENT KILL``) every ``KILL_EVERY`` seconds for ``KILL_SECONDS``, as a proxy or a network
  blip would: a command may run and lose its reply, and the client's one retry must then get
  the answer the first run would have given (the soak found a create answered 409 "key taken"
  and a delete answered 404, both by their own retries: see ``backends.redis.scripts``).
* ``SQLiteWriteLock``: another process holds the database's write lock for ``HOLD_SECONDS``
  (a backup, a migration), less than the server's ``busy_timeout``: writes must wait, never
  fail. No outage window is opened, so any 503 meanwhile fails the soak.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable

import redis.asyncio

from tests.processes import ServerProcess
from tests.redis_servers import RedisServer

from .load import Soak

DOWN_SECONDS = 2.0  # how long redis-server stays down
RECOVERY_WITHIN = 20.0  # seconds the server gets to report healthy after redis is back
KILL_SECONDS = 3.0  # how long connections keep being killed
KILL_EVERY = 0.02
HOLD_SECONDS = 2.0  # how long the SQLite write lock is held (busy_timeout is 10 s)


def faults_in(seconds: float) -> int:
    """How many faults a run of ``seconds`` gets: one a minute, at least one."""
    return max(1, int(seconds // 60))


async def evenly(soak: Soak, count: int, inject: Callable[[int], Awaitable[None]]) -> None:
    """Call ``inject(i)`` ``count`` times, spread evenly over the soak's run."""
    start = time.monotonic()
    for i in range(count):
        await asyncio.sleep(
            max(0.0, start + soak.seconds * (i + 1) / (count + 1) - time.monotonic())
        )
        await inject(i)


class RedisFaults:
    def __init__(self, redis: RedisServer, server: ServerProcess, soak: Soak) -> None:
        self.redis = redis
        self.server = server
        self.soak = soak

    async def __call__(self) -> None:
        """Restarts and connection kills in turn, as many of each as ``faults_in`` says."""
        await evenly(self.soak, 2 * faults_in(self.soak.seconds), self.inject)

    async def inject(self, i: int) -> None:
        if i % 2:
            await self.kill_connections()
        else:
            await self.restart(i // 2)

    async def kill_connections(self) -> None:
        checker = self.soak.checker
        checker.outage_begins(time.time(), "connections killed")
        client = redis.asyncio.Redis.from_url(self.redis.url)
        try:
            deadline = time.monotonic() + KILL_SECONDS
            while time.monotonic() < deadline:
                killed = await client.client_kill_filter(_type="normal", skipme=True)
                checker.counts["connections killed"] += killed
                await asyncio.sleep(KILL_EVERY)
        finally:
            await client.aclose()
        checker.outage_ends(time.time())

    async def health(self) -> int | None:
        answer = await self.soak.send("GET", "/api/health")
        return answer.status

    async def restart(self, i: int) -> None:
        checker = self.soak.checker
        assert self.server.process is not None
        pid = self.server.process.pid
        checker.outage_begins(time.time(), "redis-server restarted")
        await asyncio.to_thread(self._kill, signal.SIGTERM if i % 2 else signal.SIGKILL)
        if (status := await self.health()) != 503:
            checker.fail(f"health answered {status} while redis-server was down, not 503")
        await asyncio.sleep(DOWN_SECONDS)  # a real outage, seen by a real server: real time
        await asyncio.to_thread(self.redis.start)  # same port, same AOF directory
        deadline = time.monotonic() + RECOVERY_WITHIN
        while await self.health() != 200:
            if time.monotonic() > deadline:
                checker.fail(f"no recovery within {RECOVERY_WITHIN} s of redis-server's restart")
            await asyncio.sleep(0.05)
        checker.outage_ends(time.time())
        process = self.server.process
        if process is None or process.returncode is not None or process.pid != pid:
            checker.fail("the server did not survive the Redis outage as the same process")
        # Every write acknowledged before the kill was fsynced: it must all be there.
        await self.soak.audit(gone_sample=200)

    def _kill(self, signum: int) -> None:
        process = self.redis.process
        assert process is not None
        process.send_signal(signum)
        process.wait(timeout=20)
        self.redis.process = None


class SQLiteWriteLock:
    def __init__(self, path: str, soak: Soak) -> None:
        self.path = path
        self.soak = soak

    async def __call__(self) -> None:
        await evenly(self.soak, faults_in(self.soak.seconds), self.hold)

    async def hold(self, _i: int) -> None:
        self.soak.checker.injected("write lock held")
        await asyncio.to_thread(self._hold)

    def _hold(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # the write lock: the server's writes must wait
            time.sleep(HOLD_SECONDS)
            db.execute("ROLLBACK")
        finally:
            db.close()
