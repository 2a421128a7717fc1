"""snapshot-server next to the ceiling: each backend and a minimal aiohttp app serving the same
bytes from a dict (``bench.reference_app``), driven alternately by ``wrk -t2 -c64``.

    python -m bench.ceiling                       # sqlite, redis, memory; every scenario
    python -m bench.ceiling --quick               # 10x less data, 2 rounds of 2 s
    python -m bench.ceiling --backends sqlite,redis --scenarios get-hot-20k,post-20k \\
        --rounds 5 --duration 5 --out results.md
    python -m bench.ceiling --backends filesystem # slow to fill: see DEFAULT_BACKENDS

Each server is a real process with one worker, filled before it is measured (``bench.dataset``);
Redis is a private ``redis-server`` on a free loopback port. Every scenario runs ``--rounds``
rounds; each round drives the reference and then every server (the order flips every round),
so the ratio of a round compares runs seconds apart. The table shows medians over the rounds
and each row against the target of issue 12; the exit status is 1 when a run had errors.
``wrk`` must be installed (Debian: ``wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from bench import checks, wrk
from bench.dataset import (
    HOT_KEYS,
    Fill,
    FillJob,
    cold_keys,
    fill_in_parallel,
    fill_over_http,
    live_bodies,
)
from bench.payloads import create_body
from bench.report import Row, markdown_table, text_table, wrk_rows
from bench.servers import HEADERS, ReferenceProcess, start_redis, start_server
from tests.processes import EDITOR_TOKEN, ServerProcess

BACKENDS = ("sqlite", "redis", "filesystem", "memory")
# The filesystem backend is measured when asked for: filling it with 210,000 snapshots takes
# 15-20 minutes here (several file writes per create), and its cleanup of 100,000 expired
# snapshots far longer (two directory fsyncs per record).
DEFAULT_BACKENDS = ("sqlite", "redis", "memory")
LIST_PATH = "/api/dashboard/snapshots?limit=100"


@dataclass(frozen=True)
class Scenario:
    path: str
    script: Callable[[Path], str]  # the work directory -> the Lua script
    threads: int = wrk.THREADS
    connections: int = wrk.CONNECTIONS


SCENARIOS: dict[str, Scenario] = {
    "get-hot-20k": Scenario("/api/snapshots/hot-20k", lambda d: wrk.get_script()),
    "get-hot-1m": Scenario("/api/snapshots/hot-1m", lambda d: wrk.get_script()),
    "get-cold": Scenario("/api/snapshots/cold", lambda d: wrk.cold_get_script(d / "cold-keys.txt")),
    "post-20k": Scenario(
        "/api/snapshots", lambda d: wrk.post_script(d / "post-20k.json", EDITOR_TOKEN)
    ),
    # One listing at a time: its p50 is what one listing costs (the target is 10 ms), where
    # 64 at once would measure the queue (even the reference takes 20 ms then).
    "list-100k": Scenario(
        LIST_PATH, lambda d: wrk.authorized_get_script(EDITOR_TOKEN), threads=1, connections=1
    ),
    "mixed-90-10": Scenario(
        "/api/snapshots/hot-20k",
        lambda d: wrk.mixed_script("/api/snapshots/hot-20k", d / "post-20k.json", EDITOR_TOKEN),
    ),
}
CHECKS = ("rss", "cleanup")
# option, type, default, default with --quick, help
OPTIONS: tuple[tuple[str, type, float, float, str], ...] = (
    ("--duration", float, 4.0, 2.0, "seconds per wrk run"),
    ("--rounds", int, 3, 2, "rounds per scenario (reference and servers alternate)"),
    ("--listed", int, 100_000, 10_000, "snapshots stored for list-100k"),
    ("--cold", int, 10_000, 1_000, "keys for get-cold"),
    ("--expired", int, 100_000, 10_000, "expired snapshots the cleanup check removes"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--backends", default=",".join(DEFAULT_BACKENDS),
        help=f"comma-separated, of: {', '.join(BACKENDS)}",
    )  # fmt: skip
    parser.add_argument(
        "--scenarios", default=",".join([*SCENARIOS, *CHECKS]),
        help=f"comma-separated, of: {', '.join([*SCENARIOS, *CHECKS])}",
    )  # fmt: skip
    for option, kind, default, quick, text in OPTIONS:
        parser.add_argument(
            option, type=kind, help=f"{text} (default {default:,}; --quick: {quick:,})"
        )
    parser.add_argument("--quick", action="store_true", help="less data, fewer, shorter runs")
    parser.add_argument("--out", type=Path, help="also write the table as markdown here")
    args = parser.parse_args(argv)
    for option, _kind, default, quick, _text in OPTIONS:
        name = option.lstrip("-")
        if getattr(args, name) is None:  # what is given wins over --quick
            setattr(args, name, quick if args.quick else default)
    for name in args.backends.split(","):
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r} (of {', '.join(BACKENDS)})")
    for name in args.scenarios.split(","):
        if name not in SCENARIOS and name not in CHECKS:
            parser.error(f"unknown scenario {name!r}")
    return args


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def filled_servers(
    backends: list[str],
    workdir: Path,
    redis_url: str,
    fill: Fill,
    processes: list[ServerProcess | ReferenceProcess],
) -> dict[str, ServerProcess]:
    """A server per backend holding ``fill`` (``bench.dataset``), each appended to
    ``processes`` once it runs. The stores are filled at the same time, each by a process of
    its own; the memory store over HTTP once its server runs."""
    started = time.monotonic()
    for backend in backends:
        (workdir / backend).mkdir()
    jobs = [
        FillJob(backend, workdir / backend / "data", redis_url, "bench:", fill)
        for backend in backends
        if backend != "memory"
    ]

    async def memory() -> None:
        if "memory" in backends:
            server = await start_server("memory", str(workdir / "memory"), redis_url)
            processes.append(server)
            await fill_over_http(server.base_url, live_bodies(fill))

    await asyncio.gather(fill_in_parallel(jobs), memory())
    say(f"{', '.join(backends)}: filled in {time.monotonic() - started:.0f} s")
    servers: dict[str, ServerProcess] = {}
    for backend in backends:
        if backend != "memory":
            directory = workdir / backend
            server = await start_server(backend, str(directory), redis_url, data=directory / "data")
            processes.append(server)
            servers[backend] = server
        else:
            servers[backend] = next(p for p in processes if isinstance(p, ServerProcess))
    return {backend: servers[backend] for backend in backends}


async def write_reference_data(workdir: Path, server: ServerProcess, fill: Fill) -> Path:
    """What the reference serves: the hot responses as ``server`` gives them, the cold keys,
    and a listing as long as the fill's, made of ``server``'s first page."""
    data = workdir / "reference"
    (data / "responses").mkdir(parents=True)
    async with aiohttp.ClientSession(server.base_url, headers=HEADERS) as session:
        for key in HOT_KEYS:
            async with session.get(f"/api/snapshots/{key}") as response:
                assert response.status == 200, await response.text()
                (data / "responses" / key).write_bytes(await response.read())
        async with session.get(LIST_PATH) as response:
            page = await response.json()
    items = [dict(page[n % len(page)], id=n + 1) for n in range(max(fill.listed, len(page)))]
    (data / "list.json").write_bytes(orjson.dumps(items))
    (data / "cold-keys.txt").write_text("\n".join(cold_keys(fill.cold)))
    return data


@contextlib.asynccontextmanager
async def running(processes: list[ServerProcess | ReferenceProcess]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for process in processes:
            await process.stop()


async def measure(args: argparse.Namespace, workdir: Path) -> list[Row]:
    backends = args.backends.split(",")
    chosen = args.scenarios.split(",")
    fill = Fill(cold=args.cold, listed=args.listed)
    (workdir / "post-20k.json").write_bytes(create_body(20_000, title="posted"))
    (workdir / "cold-keys.txt").write_text("\n".join(cold_keys(fill.cold)))
    redis = start_redis(workdir / "redis-server") if "redis" in backends else None
    redis_url = redis.url if redis else ""
    rows: list[Row] = []
    processes: list[ServerProcess | ReferenceProcess] = []
    try:
        async with running(processes):
            if any(name in SCENARIOS for name in chosen):
                servers = await filled_servers(backends, workdir, redis_url, fill, processes)
                data = await write_reference_data(workdir, servers[backends[0]], fill)
                reference = ReferenceProcess(data)
                await reference.start()
                processes.append(reference)
                for name in (n for n in chosen if n in SCENARIOS):
                    rows += await scenario_rows(name, args, workdir, reference, servers)
        if "cleanup" in chosen:
            say(f"filling {args.expired:,} expired snapshots per backend for the cleanup")
            await fill_in_parallel([cleanup_job(backend, workdir, redis_url, args.expired)
                                    for backend in backends if backend != "memory"])  # fmt: skip
        for name in (n for n in chosen if n in CHECKS):
            for backend in backends:
                say(f"{name} on {backend}")
                rows.append(await check_row(name, backend, args, workdir, redis_url))
    finally:
        if redis is not None:
            redis.stop()
    return rows


async def scenario_rows(
    name: str,
    args: argparse.Namespace,
    workdir: Path,
    reference: ReferenceProcess,
    servers: dict[str, ServerProcess],
) -> list[Row]:
    scenario = SCENARIOS[name]
    script = workdir / f"{name}.lua"
    script.write_text(scenario.script(workdir))
    ref_results: list[wrk.WrkResult] = []
    runs: dict[str, list[wrk.WrkResult]] = {backend: [] for backend in servers}
    for round_number in range(args.rounds):
        say(f"{name}: round {round_number + 1} of {args.rounds}")
        order: list[tuple[str, str]] = [("", reference.base_url), *(
            (backend, server.base_url) for backend, server in servers.items())]  # fmt: skip
        if round_number % 2:
            order.reverse()
        for backend, base in order:
            result = await wrk.run_wrk(
                base.rstrip("/") + scenario.path, script, args.duration,
                threads=scenario.threads, connections=scenario.connections,
            )  # fmt: skip
            (runs[backend] if backend else ref_results).append(result)
    rows = wrk_rows(name, runs, ref_results)
    print(text_table(rows), flush=True)
    return rows


async def check_row(
    name: str, backend: str, args: argparse.Namespace, workdir: Path, redis_url: str
) -> Row:
    if name == "rss":
        return await checks.peak_rss(backend, workdir, redis_url)
    if backend == "memory":
        why = "not measured: only HTTP can fill it, too slowly for expired data"
        return Row("cleanup", backend, 0.0, 0.0, 0.0, None, note=why)
    script = workdir / "cleanup.lua"
    script.write_text(wrk.get_script())
    job = cleanup_job(backend, workdir, redis_url, args.expired)
    idle = max(args.duration, 3.0)
    job.data.parent.mkdir(parents=True, exist_ok=True)  # (Redis keeps no data there)
    return await checks.cleanup_p99(job, job.data.parent, args.expired, idle, script)


def cleanup_job(backend: str, workdir: Path, redis_url: str, count: int) -> FillJob:
    """The store the cleanup check of ``backend`` runs on: the hot snapshots and ``count``
    expired ones."""
    data = workdir / f"cleanup-{backend}" / "data"
    return FillJob(backend, data, redis_url, "bench-cleanup:", Fill(0, 0, expired=count))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    command = "python -m bench.ceiling " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as directory:
        rows = asyncio.run(measure(args, Path(directory)))
    print("\n" + text_table(rows))
    if args.out:
        args.out.write_text(
            f"Measured {started} with `{command.strip()}` (wrk -t{wrk.THREADS} "
            f"-c{wrk.CONNECTIONS}, {args.rounds} rounds of {args.duration:g} s, medians).\n\n"
            + markdown_table(rows)
            + "\n"
        )
    failed = [f"{r.scenario} on {r.backend}" for r in rows if r.verdict == "FAIL"]
    if failed:  # a MISS is a result; a FAIL (errors during a run) is not
        raise SystemExit(f"runs with errors: {', '.join(failed)}")


if __name__ == "__main__":
    main()
