"""``snapshot-server serve`` as a newcomer runs it (no config, SQLite in the working directory,
a development token printed on start) and as it fails: a taken port, unreachable storage, a bad
config. Real child processes on free loopback ports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from backends import describe_storage
from backends.filesystem import FilesystemSettings
from backends.redis import RedisSettings
from backends.sqlite import SQLiteSettings
from snapshot_server.cli import _serving_line
from snapshot_server.config import (
    Config,
    ServerConfig,
    StorageConfig,
)
from tests.processes import Newcomer, newcomer_env


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


@pytest.mark.parametrize(
    ("storage", "described"),
    [
        (StorageConfig.using("sqlite", SQLiteSettings("data/s.db")), "sqlite at {cwd}/data/s.db"),
        (
            StorageConfig.using("filesystem", FilesystemSettings("/srv/snaps")),
            "filesystem at /srv/snaps",
        ),
        (
            StorageConfig.using(
                "redis", RedisSettings(url="redis://:pw@127.0.0.1:6379/0", cluster=True)
            ),
            "redis cluster at redis://:***@127.0.0.1:6379/0",  # never the password
        ),
        (StorageConfig(backend="memory"), "memory (lost when the server stops)"),
    ],
)
def test_the_serving_line_names_the_storage(storage: StorageConfig, described: str) -> None:
    assert describe_storage(storage) == described.format(cwd=os.getcwd())


def test_the_serving_line_names_share_links_on_another_address() -> None:
    config = Config(server=ServerConfig(root_url="https://snapshots.example.com"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert _serving_line(config, [sock]) == (
            f"serving on http://127.0.0.1:{port}/ (storage: sqlite at {os.getcwd()}/snapshots.db;"
            " share links: https://snapshots.example.com/)"
        )
