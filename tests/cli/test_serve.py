"""``snapshot-server serve`` as a newcomer runs it: no config, SQLite in the working directory,
a development token printed on start. A real child process on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.support import free_port


@dataclass
class Newcomer:
    base: str
    token: str
    process: asyncio.subprocess.Process


async def launch(directory: Path) -> Newcomer | None:
    """``serve --port P`` with no config; ``None`` if another process took P first."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SNAPSHOT_SERVER_CONFIG"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", "--port", str(port),
        cwd=directory, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    server = Newcomer(f"http://127.0.0.1:{port}/", await read_token(process), process)
    # Only this process accepts the token it printed: a 200 proves we reach it, not whatever
    # else may hold the port.
    headers = {"Authorization": f"Bearer {server.token}"}
    async with asyncio.timeout(20), aiohttp.ClientSession() as session:
        while process.returncode is None:
            try:
                async with session.get(f"{server.base}api/health", headers=headers) as health:
                    pass
                async with session.get(
                    f"{server.base}api/dashboard/snapshots", headers=headers
                ) as response:
                    if health.status == response.status == 200:
                        return server
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return None


@pytest.fixture
async def newcomer_server(tmp_path: Path) -> AsyncIterator[Newcomer]:
    for _attempt in range(5):
        server = await launch(tmp_path)
        if server is not None:
            break
    else:
        pytest.fail("serve could not bind a free port in 5 attempts")
    try:
        yield server
    finally:
        if server.process.returncode is None:
            server.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.process.wait(), 10)


async def read_token(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert line, "the server exited without printing a token"
        if line.startswith("Development token"):
            await process.stdout.readline()
            return (await process.stdout.readline()).decode().strip()


async def test_serve_without_config_uses_sqlite_and_prints_a_token(
    newcomer_server: Newcomer, tmp_path: Path
) -> None:
    base, token, process = newcomer_server.base, newcomer_server.token, newcomer_server.process
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}api/snapshots", json={"dashboard": {"title": "hello"}}, headers=headers
        ) as response:
            assert response.status == 200
            made = await response.json()
        assert made["url"] == f"{base}dashboard/snapshot/{made['key']}"
        async with session.get(f"{base}api/snapshots/{made['key']}") as response:
            assert (await response.json())["dashboard"] == {"title": "hello"}
        async with session.get(f"{base}api/dashboard/snapshots", headers=headers) as response:
            assert [item["key"] for item in await response.json()] == [made["key"]]
        async with session.get(
            f"{base}api/dashboard/snapshots", headers={"Authorization": "Bearer guessed"}
        ) as response:
            assert response.status == 401
    assert (tmp_path / "snapshots.db").exists()
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_serve_with_bad_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[storage]\nbackend = "nope"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "snapshot_server",
        "serve",
        "--config",
        str(bad),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"storage.backend: must be one of" in err


async def test_serve_with_unreachable_storage_says_so(tmp_path: Path) -> None:
    config = tmp_path / "redis.toml"
    config.write_text(
        f'[server]\nport = {free_port()}\n[storage]\nbackend = "redis"\n'
        '[storage.redis]\nurl = "redis://:pw@127.0.0.1:1/0"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 3
    assert b"error: storage unavailable: cannot connect to Redis at redis://:***@" in err
    assert b"Traceback" not in err
