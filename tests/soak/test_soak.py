"""The soak with faults (README "Soak"): 8 concurrent clients mix creates, reads, listings,
deletes by either route, expiry and must-be-refused requests against a real ``snapshot-server
serve`` on SQLite and on Redis, while a fault is injected; the checker (``model``) holds every
answer to the rules: nothing acknowledged is lost, nothing deleted comes back, no 5xx but 503
inside an outage, never a 500.

``SNAPSHOT_SOAK_SECONDS`` (default 20, what CI runs) sets the length of the load per backend; a
long run by hand is ``SNAPSHOT_SOAK_SECONDS=600 python -m pytest tests/soak -s`` (one fault a
minute). ``SNAPSHOT_SOAK_SEED`` replays a seed (the report and every failure name it).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ServerProcess
from tests.redis_servers import RedisServer, free_port
from tests.support import skip_or_fail

from .faults import RedisFaults, SQLiteWriteLock, faults_in
from .load import Soak
from .model import Checker
from .records import SoakFailure

SECONDS = float(os.environ.get("SNAPSHOT_SOAK_SECONDS", "20"))

Fault = Callable[[ServerProcess, Soak], Callable[[], Coroutine[Any, Any, None]]]


@dataclass
class Backend:
    name: str
    toml: str
    fault: Fault


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "soak.db")
        yield Backend(
            "sqlite",
            f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{path}"',
            lambda server, soak: SQLiteWriteLock(path, soak),
        )
        return
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server not installed")
    redis = RedisServer(
        tmp_path / "redis", free_port(), "--appendonly", "yes", "--appendfsync", "always"
    )
    redis.start()
    try:
        yield Backend(
            "redis",
            f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{redis.url}"',
            lambda server, soak: RedisFaults(redis, server, soak),
        )
    finally:
        redis.stop()


async def test_soak_with_faults_loses_nothing(backend: Backend, tmp_path: Path) -> None:
    seed = int(os.environ.get("SNAPSHOT_SOAK_SEED") or secrets.randbits(32))
    # The cleanup job runs every second, racing the clients' deletes and reads.
    server = ServerProcess(
        tmp_path,
        f"{backend.toml}\n\n[snapshots]\ncleanup_interval = 1.0\n",
        workers=int(os.environ.get("SNAPSHOT_SOAK_WORKERS", "1")),
    )
    await server.start()
    checker = Checker()
    soak = Soak(server.base_url, checker, seed=seed, seconds=SECONDS)
    try:
        await soak.run(backend.fault(server, soak))
        assert server.process is not None
        assert server.process.returncode is None  # never restarted
    except SoakFailure as exc:
        raise SoakFailure(
            f"{exc}\n(seed {seed}: SNAPSHOT_SOAK_SEED={seed} replays the mix)\n"
            f"server log, last lines:\n{server.log()[-4000:]}"
        ) from exc
    finally:
        code = await server.stop()
    print(f"\nsoak on {backend.name}, {SECONDS:g} s, seed {seed}: {soak.report()}")
    assert code == 0, server.log()[-4000:]
    if backend.name == "redis":
        assert checker.counts["fault: redis-server restarted"] == faults_in(SECONDS)
        assert checker.counts["fault: connections killed"] == faults_in(SECONDS)
        assert checker.counts["503 in outage"] > 0  # the outage was seen, as 503s
        assert checker.counts["connections killed"] > 0
    else:
        assert checker.counts["fault: write lock held"] == faults_in(SECONDS)
    assert checker.counts["creates acknowledged"] >= 50  # the load really ran
    assert checker.counts["deletes acknowledged"] >= 10
