"""Peak memory of a server receiving many large creates at once, with the upload bound at a
given size (``[limits] upload_bytes_in_flight``): the number the README states.

    python -m bench.uploads [--clients 16] [--mib 60] [--bound-mib 256]

Starts ``snapshot-server serve`` on SQLite (stored snapshots live on disk, not in the process),
sends ``--clients`` creates of ``--mib`` MiB each at once and prints the server's resident
memory before and at its peak (Linux ``VmHWM``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.servers import HEADERS
from bench.viewer import reset_peak, rss_mb
from tests.processes import ServerProcess

MIB = 1 << 20


def dashboard_body(size: int) -> bytes:
    """A create body of about ``size`` bytes shaped like real snapshot data: a time series of
    number pairs, the shape that costs the most memory once parsed (a Python object per value).
    """
    point = [123.456, 1_700_000_000_000]
    count = size // len(orjson.dumps(point))
    series = {"target": "cpu", "datapoints": [point] * count}
    return orjson.dumps({"dashboard": {"panels": [{"type": "graph", "snapshotData": [series]}]}})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--mib", type=int, default=60)
    parser.add_argument("--bound-mib", type=int, default=256)
    args = parser.parse_args()
    body = dashboard_body(args.mib * MIB)
    with tempfile.TemporaryDirectory() as directory:
        settings = (
            f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{directory}/s.db"\n'
            f"[limits]\nupload_bytes_in_flight = {args.bound_mib * MIB}\nbody_timeout = 600.0"
        )
        server = ServerProcess(Path(directory), settings)
        await server.start()
        assert server.process is not None
        pid = server.process.pid
        try:
            before, _ = rss_mb(pid)
            reset_peak(pid)
            timeout = aiohttp.ClientTimeout(total=900)
            async with aiohttp.ClientSession(timeout=timeout) as session:

                async def create() -> int:
                    url = f"{server.base_url}api/snapshots"
                    async with session.post(url, data=body, headers=HEADERS) as response:
                        await response.read()
                        return response.status

                started = time.perf_counter()
                statuses = await asyncio.gather(*(create() for _ in range(args.clients)))
                took = time.perf_counter() - started
            _, peak = rss_mb(pid)
        finally:
            await server.stop()
    print(
        f"{args.clients} creates of {len(body) / MIB:.0f} MiB, bound {args.bound_mib} MiB: "
        f"statuses {sorted(set(statuses))}, {took:.1f} s, RSS {before:.0f} MB -> peak {peak:.0f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
