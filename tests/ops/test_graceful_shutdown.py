"""SIGTERM on a real ``snapshot-server serve`` (one process, and ``--workers 2``) while 20 large
creates are under way: it exits 0 quickly, every create it acknowledged reads back identical
after a restart on the same storage, and every other one was never acknowledged (answered 503,
or its connection closed) and left nothing half-written."""

from __future__ import annotations

import asyncio
import io
import secrets
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from snapshot_server.webapp.protocol import IN_FLIGHT_SECONDS
from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CREATES = 20
DASHBOARD_BYTES = 1 << 20
CHUNK = 64 * 1024
SLOW_PAUSE = 1.0  # a slow upload takes ~16 s: only being cut short ends it in time
ACKNOWLEDGED_BEFORE_SIGTERM = 5


@dataclass
class Outcome:
    dashboard: dict[str, Any]
    slow: bool
    delay: float  # before it starts: fast ones keep arriving while the server stops
    status: int | None = None  # None: no answer (the connection closed)
    answer: Any = None


async def upload(body: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(body), CHUNK):
        yield body[offset : offset + CHUNK]
        await asyncio.sleep(SLOW_PAUSE)


async def send(http: aiohttp.ClientSession, base: str, outcome: Outcome) -> None:
    body = orjson.dumps({"dashboard": outcome.dashboard, "name": f"n{outcome.dashboard['n']}"})
    headers = {**EDITOR, "Content-Length": str(len(body))}
    data: io.BytesIO | AsyncIterator[bytes] = upload(body) if outcome.slow else io.BytesIO(body)
    await asyncio.sleep(outcome.delay)
    try:
        async with http.post(f"{base}api/snapshots", data=data, headers=headers) as response:
            outcome.status = response.status
            outcome.answer = await response.json()
    except (aiohttp.ClientError, ConnectionError):
        outcome.status = None  # cut off before any answer, or refused: not acknowledged


async def sigterm_during(server: ServerProcess, outcomes: list[Outcome]) -> tuple[float, int]:
    """Send every create, SIGTERM the server once enough are acknowledged (the slow ones still
    uploading), and return how long it took to exit, and its exit code."""
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        tasks = [asyncio.create_task(send(http, server.base_url, o)) for o in outcomes]
        async with asyncio.timeout(30):
            while sum(o.status == 200 for o in outcomes) < ACKNOWLEDGED_BEFORE_SIGTERM:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=0.05)
        process = server.process
        assert process is not None
        assert not any(o.status for o in outcomes if o.slow)  # still uploading
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 15)
        took = time.monotonic() - started
        server.process = None
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
    return took, code


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_during_large_creates_keeps_every_acknowledged_one(
    tmp_path: Path, workers: int
) -> None:
    storage = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    server = ServerProcess(tmp_path, storage, workers=workers)
    await server.start()
    outcomes = [
        Outcome(
            {"n": n, "data": secrets.token_hex(DASHBOARD_BYTES // 2)},
            slow=n % 2 == 1,
            delay=0 if n % 2 == 1 else 0.1 * (n // 2),
        )
        for n in range(CREATES)
    ]
    try:
        took, code = await sigterm_during(server, outcomes)
    finally:
        if server.process is not None:  # the test failed before the SIGTERM: no orphan
            await server.kill()
    log = server.log()
    assert code == 0, log[-3000:]
    # The slow uploads were cut short, not waited for: well under the in-flight bound.
    assert took < IN_FLIGHT_SECONDS - 1, f"shutdown took {took:.2f} s"
    assert "Traceback" not in log

    acknowledged = [o for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status != 200]
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_SIGTERM
    assert all(not o.slow for o in acknowledged)  # a slow one never finished its upload
    for o in refused:  # a clear answer, or none at all
        assert o.status in (None, 503), (o.status, o.answer)
        if o.status == 503:
            assert "shutting down" in o.answer["message"]
    assert any(o.status == 503 for o in refused if o.slow)  # cut short with an answer

    await server.start()  # the same storage, a new process
    try:
        async with aiohttp.ClientSession() as http:
            for o in acknowledged:
                async with http.get(f"{server.base_url}api/snapshots/{o.answer['key']}") as r:
                    assert r.status == 200
                    assert (await r.json())["dashboard"] == o.dashboard
            url = f"{server.base_url}api/dashboard/snapshots?limit=1000"
            async with http.get(url, headers=ADMIN) as r:
                stored = await r.json()
            sent = {o.dashboard["n"]: o.dashboard for o in outcomes}
            for item in stored:  # acknowledged or not, nothing stored is half a dashboard
                async with http.get(f"{server.base_url}api/snapshots/{item['key']}") as r:
                    dashboard = (await r.json())["dashboard"]
                assert dashboard == sent[dashboard["n"]]
        assert {o.answer["id"] for o in acknowledged} <= {item["id"] for item in stored}
    finally:
        assert await server.stop() == 0
