"""Benchmark scenarios against a real server process per backend; prints each result next to
the reference in ``bench/reference.json`` (measured on the 2-core CI machine).

    python -m bench.run                          # sqlite and memory, every scenario, 5 s each
    python -m bench.run --backends sqlite,redis --redis-url redis://127.0.0.1:6379/0 --duration 10

The server runs in its own process (one worker), the load generator in this one: on a 2-core
machine they share the CPUs, so read the numbers as relative, not as capacity planning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.loadgen import Request, Result, check_loopback, run
from tests.processes import EDITOR_TOKEN, ServerProcess

HEADERS = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
REFERENCE = Path(__file__).with_name("reference.json")


def dashboard(points: int) -> bytes:
    panel = {"type": "timeseries", "snapshotData": [{"fields": [
        {"name": "time", "type": "time", "values": list(range(points))},
        {"name": "Value", "type": "number", "values": [i * 0.5 for i in range(points)]},
    ]}]}  # fmt: skip
    return orjson.dumps({"title": "bench", "panels": [panel] * 4})


def storage_toml(backend: str, directory: str, redis_url: str) -> str:
    if backend == "sqlite":
        return f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{directory}/b.db"'
    if backend == "filesystem":
        return f'[storage]\nbackend = "filesystem"\n[storage.filesystem]\npath = "{directory}/fs"'
    if backend == "redis":
        return (
            f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{redis_url}"\n'
            f'key_prefix = "bench-{os.getpid()}:"'
        )
    return '[storage]\nbackend = "memory"'


async def start_server(backend: str, directory: str, redis_url: str) -> ServerProcess:
    """A ``snapshot-server serve`` of ``backend`` in ``directory``, once it says it serves and
    proves it is ours (the same start as the end-to-end tests)."""
    settings = (
        f"{storage_toml(backend, directory, redis_url)}\n[snapshots]\ncleanup_interval = 3600"
    )
    server = ServerProcess(Path(directory), settings)
    check_loopback(server.base_url)
    await server.start()
    return server


async def scenarios(base: str, concurrency: int, duration: float) -> dict[str, Result]:
    small, large = dashboard(10), dashboard(25_000)  # ~1 KB and ~1.5 MB bodies
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}api/snapshots", data=b'{"dashboard":%s}' % large, headers=HEADERS
        ) as response:
            large_key = (await response.json())["key"]
        async with session.post(
            f"{base}api/snapshots", data=b'{"dashboard":%s}' % small, headers=HEADERS
        ) as response:
            small_key = (await response.json())["key"]

    def post(body: bytes) -> Request:
        payload = b'{"dashboard":%s}' % body

        async def send(session: aiohttp.ClientSession, n: int) -> int:
            async with session.post(f"{base}api/snapshots", data=payload, headers=HEADERS) as r:
                await r.read()
                return r.status

        return send

    def get(path: str, headers: dict[str, str] | None = None) -> Request:
        async def send(session: aiohttp.ClientSession, n: int) -> int:
            async with session.get(f"{base}{path}", headers=headers) as response:
                await response.read()
                return response.status

        return send

    plan: dict[str, Request] = {
        "get-small": get(f"api/snapshots/{small_key}"),
        "get-1.5MB": get(f"api/snapshots/{large_key}"),
        "create-small": post(small),
        "list-100": get("api/dashboard/snapshots?limit=100", HEADERS),
        "health": get("api/health"),
    }
    return {
        name: await run(request, concurrency=concurrency, duration=duration)
        for name, request in plan.items()
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="memory,sqlite")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--record", action="store_true", help="write results as the reference")
    args = parser.parse_args()
    check_loopback(args.redis_url)
    reference = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    recorded: dict[str, dict[str, float]] = {}
    print(
        f"{'backend':<11}{'scenario':<14}{'req/s':>9}{'ref':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}"
    )
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as directory:
            server = await start_server(backend, directory, args.redis_url)
            try:
                results = await scenarios(server.base_url, args.concurrency, args.duration)
            finally:
                await server.stop()
        for name, result in results.items():
            ref = reference.get(backend, {}).get(name)
            ref_text = f"{ref:9.0f}" if ref else f"{'-':>9}"
            print(
                f"{backend:<11}{name:<14}{result.rps:9.0f}{ref_text}"
                f"{result.percentile(50):9.2f}{result.percentile(99):9.2f}{result.errors:8d}"
            )
            recorded.setdefault(backend, {})[name] = round(result.rps)
    if args.record:
        reference.update(recorded)
        reference["_measured"] = time.strftime("%Y-%m-%d")
        REFERENCE.write_text(json.dumps(reference, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
