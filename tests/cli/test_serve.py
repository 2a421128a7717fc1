"""``snapshot-server serve`` as a newcomer runs it (no config, SQLite in the working directory,
a development token printed on start) and as it fails: a taken port, unreachable storage, a bad
config. Real child processes on free loopback ports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
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
    output: list[str]  # what it printed up to and including the "serving on" line


def newcomer_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SNAPSHOT_SERVER_CONFIG"}


async def launch(directory: Path) -> Newcomer | None:
    """``serve --port P`` with no config; ``None`` if another process took P first."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", "--port", str(port), cwd=directory,
        env=newcomer_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = await read_until_serving(process)
    if output is None:
        if process.returncode is None:  # silent but running: not a port taken meanwhile
            process.kill()
            await process.wait()
            pytest.fail("serve printed no 'serving on' line within 20 s")
        await process.wait()
        return None
    token = output[output.index("Development token for this run (Admin of org 1):") + 2].strip()
    server = Newcomer(f"http://127.0.0.1:{port}/", token, process, output)
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


async def read_until_serving(process: asyncio.subprocess.Process) -> list[str] | None:
    """The lines printed up to the ``serving on`` line; ``None`` if the process exited (or
    printed nothing for 20 s) first."""
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        except TimeoutError:
            return None
        if not line:
            return None
        lines.append(line.rstrip("\n"))
        if line.startswith("serving on "):
            return lines


async def test_serve_without_config_uses_sqlite_and_prints_a_token(
    newcomer_server: Newcomer, tmp_path: Path
) -> None:
    base, token, process = newcomer_server.base, newcomer_server.token, newcomer_server.process
    # Announced once it serves: the token banner, then one line saying where and on what.
    assert newcomer_server.output[-1] == (
        f"serving on {base} (storage: sqlite at {tmp_path / 'snapshots.db'})"
    )
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


async def run_serve(*args: str, cwd: Path, within: float = 30) -> tuple[int, str, str]:
    """``snapshot-server serve ARGS`` with no config from the environment, run to its end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", *args, cwd=cwd, env=newcomer_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on (a plain socket: no SO_REUSEPORT)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_taken_port_is_one_line_before_any_banner(
    taken_port: int, workers: str, tmp_path: Path
) -> None:
    code, out, err = await run_serve("--port", str(taken_port), "--workers", workers, cwd=tmp_path)
    assert (code, out) == (2, "")  # no development token printed for a server that never ran
    assert err == (
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use (another "
        "server is running there; choose another with --port or [server] port)\n"
    )


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("-", "Name or service not known"),  # refused by the resolver without a lookup
        ("a..b", "not a valid host name"),  # refused before reaching the resolver
    ],
)
async def test_unusable_host_is_one_line(host: str, reason: str, tmp_path: Path) -> None:
    code, out, err = await run_serve("--host", host, "--port", "8080", cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err == (
        f"error: cannot listen on {host}:8080: cannot resolve {host!r}: {reason} "
        "(check --host or [server] host)\n"
    )


async def test_serve_with_bad_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[storage]\nbackend = "nope"\n')
    code, out, err = await run_serve("--config", str(bad), cwd=tmp_path)
    assert (code, out) == (2, "")
    assert "storage.backend: must be one of" in err


@pytest.mark.parametrize("workers", [1, 3])
async def test_serve_with_unreachable_storage_says_so_once(workers: int, tmp_path: Path) -> None:
    config = tmp_path / "redis.toml"
    # Port 0: the system picks a free one, so nothing else can hold it.
    config.write_text(
        f'[server]\nport = 0\nworkers = {workers}\n[storage]\nbackend = "redis"\n'
        '[storage.redis]\nurl = "redis://:pw@127.0.0.1:1/0"\n'
    )
    code, out, err = await run_serve("--config", str(config), cwd=tmp_path)
    assert code == 3
    assert "serving on" not in out
    # One line, however many workers hit it.
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(
        "error: storage unavailable: cannot connect to Redis at redis://:***@127.0.0.1:1/0"
    )
    assert "Traceback" not in err
