"""The processes a benchmark measures: ``snapshot-server serve`` (one worker, as the end-to-end
tests start it), the reference app (``bench.reference_app``), and a private ``redis-server`` on
a free loopback port (never a Redis someone else uses). Loopback addresses only."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench.dataset import storage_toml
from tests.processes import EDITOR_TOKEN, ServerProcess
from tests.redis_servers import RedisServer
from tests.redis_servers import free_port as free_redis_port
from tests.support import free_port

HEADERS = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {url}: benchmarks only target loopback addresses")


async def start_server(
    backend: str,
    directory: str,
    redis_url: str,
    *,
    cleanup_interval: float = 3600,
    data: Path | None = None,
    prefix: str = "bench:",
) -> ServerProcess:
    """A ``snapshot-server serve`` of ``backend`` (one worker) in ``directory``, its data in
    ``data`` (default: ``directory``), once it says it serves and proves it is ours."""
    storage = storage_toml(backend, data or Path(directory), redis_url, prefix)
    server = ServerProcess(
        Path(directory), f"{storage}\n[snapshots]\ncleanup_interval = {cleanup_interval}"
    )
    check_loopback(server.base_url)
    await server.start()
    return server


def server_pid(server: ServerProcess) -> int:
    assert server.process is not None, "the server is not running"
    return server.process.pid


def start_redis(directory: Path) -> RedisServer:
    """A private ``redis-server`` (no persistence) in ``directory``, on a free loopback port."""
    server = RedisServer(directory, free_redis_port())
    server.start()
    return server


class ReferenceProcess:
    """``python -m bench.reference_app`` serving ``data`` on a free loopback port."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = (self.data / "reference.log").open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.reference_app", "--port", str(self.port),
                "--data", str(self.data), stdout=log, stderr=log,
            )  # fmt: skip
        finally:
            log.close()
        url = f"{self.base_url}api/snapshots/hot-20k"
        async with asyncio.timeout(30), aiohttp.ClientSession() as session:
            while self.process.returncode is None:
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)
        log_text = (self.data / "reference.log").read_text(errors="replace")
        raise RuntimeError(f"the reference app exited:\n{log_text[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 20)
        self.process = None
