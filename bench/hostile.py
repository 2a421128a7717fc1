"""What hostile uploads cost a running server: gzip bombs (a health probe's worst wait while
they arrive) and large anonymous creates (memory, and how soon the 401 comes).

    python -m bench.hostile [--bombs 4] [--anonymous 10]

Starts ``snapshot-server serve`` (memory backend) and prints one line per scenario: the server's
resident memory before and at its peak (Linux ``VmHWM``) and the timings.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench.servers import HEADERS
from bench.viewer import reset_peak, rss_mb
from tests.processes import ServerProcess
from tests.support import gzip_bomb

MIB = 1 << 20


async def measure(
    name: str, server: ServerProcess, load: Callable[[aiohttp.ClientSession], Awaitable[str]]
) -> None:
    assert server.process is not None
    pid = server.process.pid
    before, _ = rss_mb(pid)
    reset_peak(pid)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        detail = await load(session)
    _, peak = rss_mb(pid)
    print(f"{name:<34} {detail}; RSS {before:.0f} MB -> peak {peak:.0f} MB", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--anonymous", type=int, default=10)
    args = parser.parse_args()
    bomb = gzip_bomb(1024)
    anonymous = b'{"dashboard": {"x": "' + b"a" * (60 * MIB) + b'"}}'
    with tempfile.TemporaryDirectory() as directory:
        server = ServerProcess(Path(directory), '[storage]\nbackend = "memory"')
        await server.start()
        base = server.base_url
        try:

            async def bombs(session: aiohttp.ClientSession) -> str:
                paths = ["api/snapshots", "api/health", "no/such/path"]

                async def send(i: int) -> int:
                    method = "GET" if paths[i % 3] == "api/health" else "POST"
                    headers = {"Content-Encoding": "gzip", **HEADERS}
                    async with session.request(
                        method, base + paths[i % 3], data=bomb, headers=headers
                    ) as response:
                        await response.read()
                        return response.status

                sent = asyncio.gather(*(send(i) for i in range(args.bombs)))
                waits = []
                while not sent.done():
                    started = time.perf_counter()
                    async with session.get(base + "api/health") as probe:
                        await probe.read()
                    waits.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)
                statuses = await sent
                return f"statuses {statuses}, health probe worst wait {max(waits):.3f} s"

            async def uploads(session: aiohttp.ClientSession) -> str:
                async def send() -> float:
                    started = time.perf_counter()
                    async with session.post(base + "api/snapshots", data=anonymous) as response:
                        await response.read()
                        assert response.status == 401, response.status
                    return time.perf_counter() - started

                took = await asyncio.gather(*(send() for _ in range(args.anonymous)))
                return f"401 after {min(took):.2f}-{max(took):.2f} s (client side)"

            await measure(f"{args.bombs} gzip bombs (1 MiB -> 1 GiB)", server, bombs)
            await measure(f"{args.anonymous} anonymous 60 MiB creates", server, uploads)
        finally:
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
