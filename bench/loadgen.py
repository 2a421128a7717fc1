"""A small closed-loop HTTP load generator: ``concurrency`` clients, each sending its next
request as soon as the previous answer arrives, for ``duration`` seconds. Reports throughput
and latency percentiles. Loopback targets only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]
"""Sends one request (the int is a sequence number) and returns the HTTP status."""

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {url}: benchmarks only target loopback addresses")


async def run(request: Request, *, concurrency: int, duration: float) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                started = time.perf_counter()
                try:
                    status = await request(session, counter)
                except aiohttp.ClientError:
                    status = 0
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(requests=len(latencies), errors=errors, seconds=elapsed, latencies_ms=latencies)
