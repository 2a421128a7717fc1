"""The two measurements that are not a wrk run against a ready server, each on a fresh server:

- ``peak_rss``: the server's peak resident memory (Linux ``VmHWM``, reset first) while 32
  realistic 1 MB creates arrive at once (target: under 300 MB);
- ``cleanup_p99``: GET p99 of the hot 20 KB snapshot under wrk load, first idle, then while the
  cleanup job removes the expired snapshots the store was filled with (target: at most 2 x the
  idle p99). The job first runs ``cleanup_interval`` seconds after the server starts, which is
  set to fall just after the idle run; the second run lasts until the job says it is done (the
  ``snapshot_expired_removed_total`` metric at ``/metrics``), or at most ``CLEANUP_CAP`` s.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.dataset import FillJob
from bench.payloads import create_body
from bench.report import CLEANUP_P99_FACTOR, RSS_LIMIT_MB, Row
from bench.servers import HEADERS, server_pid, start_server
from bench.viewer import reset_peak, rss_mb
from bench.wrk import WrkResult, run_wrk
from tests.processes import ServerProcess

UPLOADS = 32
CLEANUP_CAP = 120.0  # seconds of load during a cleanup at most
REMOVED_METRIC = "snapshot_expired_removed_total"


async def peak_rss(backend: str, workdir: Path, redis_url: str) -> Row:
    body = create_body(1 << 20, title="rss")
    with tempfile.TemporaryDirectory(dir=workdir) as directory:
        server = await start_server(backend, directory, redis_url, prefix="bench-rss:")
        try:
            pid = server_pid(server)
            before, _ = rss_mb(pid)
            reset_peak(pid)
            timeout = aiohttp.ClientTimeout(total=300)
            async with aiohttp.ClientSession(timeout=timeout, headers=HEADERS) as session:

                async def create() -> int:
                    url = f"{server.base_url}api/snapshots"
                    async with session.post(url, data=body) as response:
                        await response.read()
                        return response.status

                started = time.perf_counter()
                statuses = await asyncio.gather(*(create() for _ in range(UPLOADS)))
                took = time.perf_counter() - started
            _, peak = rss_mb(pid)
        finally:
            await server.stop()
    bad = [s for s in statuses if s != 200]
    return Row(
        scenario=f"rss-{UPLOADS}x1m-post",
        backend=backend,
        rps=0.0,
        p50_ms=0.0,
        p99_ms=0.0,
        ratio=None,
        failed=f"{len(bad)} non-200 ({sorted(set(bad))})" if bad else "",
        target=f"peak RSS < {RSS_LIMIT_MB:g} MB",
        verdict="FAIL" if bad else "PASS" if peak < RSS_LIMIT_MB else "MISS",
        note=f"peak {peak:.0f} MB (idle {before:.0f} MB), {took:.1f} s",
    )


async def _removed(session: aiohttp.ClientSession, server: ServerProcess) -> float:
    """How many expired snapshots the cleanup job has reported removed (its metric: cheap to
    ask, where reading the server's log would cost the harness as much as it measures)."""
    async with session.get(f"{server.base_url}metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(REMOVED_METRIC + " "):
            return float(line.split()[1])
    return 0.0


async def cleanup_p99(
    job: FillJob, directory: Path, count: int, idle_seconds: float, script: Path
) -> Row:
    """The cleanup check on the store ``job`` filled (``count`` expired snapshots)."""
    interval = idle_seconds + 4  # the first round falls just after the idle run
    server = await start_server(
        job.backend, str(directory), job.redis_url, cleanup_interval=interval, data=job.data,
        prefix=job.prefix,
    )  # fmt: skip
    ready = time.monotonic()
    url = f"{server.base_url}api/snapshots/hot-20k"
    try:
        idle = await run_wrk(url, script, idle_seconds)
        await asyncio.sleep(max(0.0, ready + interval - 0.5 - time.monotonic()))
        stop = asyncio.Event()
        started = time.monotonic()
        load = asyncio.ensure_future(run_wrk(url, script, CLEANUP_CAP, stop=stop))
        async with aiohttp.ClientSession() as session:
            while not load.done():  # polling: the job runs in another process
                if await _removed(session, server) >= count:
                    break
                await asyncio.sleep(0.1)
            took = time.monotonic() - started
            await asyncio.sleep(max(0.0, started + 1.5 - time.monotonic()))
            stop.set()
            during = await load
            done = await _removed(session, server) >= count
    finally:
        await server.stop()
    return _cleanup_row(job.backend, count, idle, during, took, done)


def _cleanup_row(
    backend: str, count: int, idle: WrkResult, during: WrkResult, took: float, done: bool
) -> Row:
    factor = during.p99_ms / idle.p99_ms if idle.p99_ms else float("inf")
    failed = "; ".join(f for f in (idle.failed, during.failed) if f)
    state = f"removed in ~{took:.1f} s" if done else f"not done after {took:.0f} s"
    return Row(
        scenario="cleanup",
        backend=backend,
        rps=during.rps,
        p50_ms=during.p50_ms,
        p99_ms=during.p99_ms,
        ratio=None,
        failed=failed,
        target=f"p99 <= {CLEANUP_P99_FACTOR:g} x idle p99",
        verdict="FAIL" if failed else "PASS" if factor <= CLEANUP_P99_FACTOR else "MISS",
        note=(
            f"idle p99 {idle.p99_ms:.2f} ms ({idle.rps:,.0f}/s), during x{factor:.1f}, "
            f"max {during.max_ms:.0f} ms; {count:,} expired {state}"
        ),
    )
