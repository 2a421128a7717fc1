"""Several stateless workers over one store: any request may land on any worker.

Two independent server processes share a backend (as two hosts would), and one
``serve --workers 2`` shares its port between two processes (SO_REUSEPORT)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess
from tests.redis_servers import RedisServer, free_port
from tests.support import skip_or_fail

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["sqlite", "filesystem", "redis"])
async def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """TOML for a backend that several processes can share."""
    if request.param == "sqlite":
        yield f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    elif request.param == "filesystem":
        yield f'[storage]\nbackend = "filesystem"\n[storage.filesystem]\npath = "{tmp_path}/fs"'
    else:
        if shutil.which("redis-server") is None:
            skip_or_fail("redis-server not installed")
        server = RedisServer(tmp_path / "redis", free_port())
        server.start()
        try:
            yield f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{server.url}"'
        finally:
            server.stop()


async def test_two_servers_share_one_store(shared_storage: str, tmp_path: Path) -> None:
    first = ServerProcess(tmp_path, shared_storage)
    second = ServerProcess(tmp_path, shared_storage)
    await first.start()
    await second.start()
    a, b = first.base_url, second.base_url
    try:
        async with aiohttp.ClientSession() as http:
            made = []
            for base in (a, b, a, b):
                async with http.post(
                    f"{base}api/snapshots", json={"dashboard": {"from": base}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    made.append(await response.json())
            ids = [m["id"] for m in made]
            assert ids == sorted(ids)
            assert len(set(ids)) == 4  # one id sequence across processes

            async with http.get(f"{b}api/snapshots/{made[0]['key']}") as response:
                assert (await response.json())["dashboard"] == {"from": a}
            async with http.get(f"{a}api/dashboard/snapshots", headers=EDITOR) as response:
                assert [i["id"] for i in await response.json()] == ids

            async with http.delete(f"{b}api/snapshots/{made[0]['key']}", headers=ADMIN) as r:
                assert r.status == 200
            async with http.get(f"{b}api/snapshots-delete/{made[1]['deleteKey']}") as r:
                assert r.status == 200
            for key in (made[0]["key"], made[1]["key"]):
                async with http.get(f"{a}api/snapshots/{key}") as response:
                    assert response.status == 404
            async with http.post(
                f"{a}api/snapshots",
                json={"dashboard": {}, "key": made[2]["key"]},
                headers=EDITOR,
            ) as response:
                assert response.status == 409  # a key taken through b is taken for a too
    finally:
        await first.stop()
        await second.stop()


def worker_pids(pid: int) -> list[int]:
    """The serving children of ``pid`` (multiprocessing's resource tracker is a child too)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(p) for p in text.split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status


async def test_workers_option_runs_processes_on_one_port(tmp_path: Path) -> None:
    storage = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    server = ServerProcess(tmp_path, storage, workers=2)
    await server.start()
    try:
        assert server.process is not None
        workers = worker_pids(server.process.pid)
        assert len(workers) == 2
        # Fresh connections are spread by the kernel; every answer must be consistent anyway.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            keys = []
            for n in range(20):
                async with http.post(
                    f"{server.base_url}api/snapshots", json={"dashboard": {"n": n}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    keys.append((await response.json())["key"])
            for n, key in enumerate(keys):
                async with http.get(f"{server.base_url}api/snapshots/{key}") as response:
                    assert (await response.json())["dashboard"] == {"n": n}
    finally:
        await server.stop()
    assert not any(running(pid) for pid in workers)  # SIGTERM reached every worker
