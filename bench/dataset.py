"""What each measured server holds before it is measured, and how it gets there fast.

The measured server is always a real process; only the filling takes shortcuts. SQLite,
filesystem and Redis stores are filled in this process through the server's own service
(``SnapshotService.create``, so every stored record is exactly what a POST stores), SQLite and
filesystem in a directory on tmpfs (no fsync costs there) that is then copied to the disk the
server runs on. The memory store lives only inside the server process: it is filled over HTTP.

Keys are chosen by the benchmark (``hot-20k``, ``cold-00042``...), so every server and the
reference answer the same paths.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from backends import open_store
from bench.payloads import create_body, small_body
from snapshot_server.auth import TokenAuthenticator
from snapshot_server.clock import Clock
from snapshot_server.config import load_config
from snapshot_server.service import SnapshotService
from snapshot_server.webapp.parsing import parse_create_request
from tests.processes import EDITOR_TOKEN, tokens_toml

HOT_KEYS = {"hot-20k": 20_000, "hot-1m": 1 << 20}
CHUNK = 64  # creates in flight while filling
EXPIRED_AGE = 2 * 86400.0  # expired snapshots were created this long ago, to live an hour
TMPFS = Path("/dev/shm")  # noqa: S108 (a private directory is made inside)


@dataclass(frozen=True)
class Fill:
    """How many snapshots of each kind a server gets."""

    cold: int = 10_000  # 20 KB snapshots, ``cold-NNNNN``, for the cold GET
    listed: int = 100_000  # ~3 KB snapshots of the editor, for the listing
    expired: int = 0  # ~3 KB snapshots expired long ago, for the cleanup check


def cold_keys(count: int) -> list[str]:
    return [f"cold-{n:05d}" for n in range(count)]


def live_bodies(fill: Fill) -> Iterator[bytes]:
    """Create bodies of the hot, cold and listed snapshots (never expiring)."""
    for key, size in HOT_KEYS.items():
        yield create_body(size, title=key, key=key)
    cold = create_body(20_000, title="cold")
    for key in cold_keys(fill.cold):  # the same body under each key
        body = orjson.loads(cold)
        body["key"], body["deleteKey"] = key, f"delete-{key}"
        yield orjson.dumps(body)
    for n in range(fill.listed):
        yield small_body(f"listed {n}", key=f"listed-{n:06d}")


def expired_bodies(count: int) -> Iterator[bytes]:
    """Create bodies that live an hour (made ``EXPIRED_AGE`` ago, so long expired)."""
    for n in range(count):
        yield small_body(f"expired {n}", key=f"expired-{n:06d}", expires=3600)


def storage_toml(backend: str, data: Path, redis_url: str, prefix: str) -> str:
    """The ``[storage]`` tables of ``backend`` with its data in ``data``."""
    if backend == "sqlite":
        return f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{data}/b.db"'
    if backend == "filesystem":
        return f'[storage]\nbackend = "filesystem"\n[storage.filesystem]\npath = "{data}/fs"'
    if backend == "redis":
        return (
            f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{redis_url}"\n'
            f'key_prefix = "{prefix}"'
        )
    return '[storage]\nbackend = "memory"'


Group = tuple[Iterable[bytes], float]
"""Create bodies, and how many seconds behind the clock they are created."""


def _clock(age: float) -> Clock:
    return lambda: time.time() - age


async def fill_in_process(storage: str, groups: Iterable[Group]) -> int:
    """Create every body of ``groups`` through the service on the store ``storage`` (TOML)
    names, as the editor, each group with its clock. Returns how many were created."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "fill.toml"
        path.write_text(f"{storage}\n[snapshots]\ncleanup_interval = 3600\n{tokens_toml()}")
        config = load_config(path)
    store = await open_store(config.storage)
    identity = TokenAuthenticator(config.auth.tokens).identify(f"Bearer {EDITOR_TOKEN}")
    created = 0
    try:
        for bodies, age in groups:
            service = SnapshotService(config, store, clock=_clock(age))
            iterator = iter(bodies)
            while chunk := list(itertools.islice(iterator, CHUNK)):
                requests = [parse_create_request(orjson.loads(body)) for body in chunk]
                await asyncio.gather(*(service.create(identity, r) for r in requests))
                created += len(chunk)
    finally:
        await store.aclose()
    return created


async def fill_over_http(base_url: str, bodies: Iterable[bytes]) -> int:
    """POST every body to the server at ``base_url`` as the editor, ``CHUNK`` at a time."""
    iterator = iter(bodies)
    created = 0
    headers = {"Authorization": f"Bearer {EDITOR_TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(f"{base_url.rstrip('/')}/", headers=headers) as session:

        async def worker() -> None:
            nonlocal created
            for body in iterator:  # one shared iterator: each body is sent once
                async with session.post("api/snapshots", data=body) as response:
                    if response.status != 200:
                        raise RuntimeError(f"filling: {response.status} {await response.text()}")
                created += 1

        await asyncio.gather(*(worker() for _ in range(CHUNK)))
    return created


def _tmpfs_usable() -> bool:
    return TMPFS.is_dir() and os.access(TMPFS, os.W_OK)


async def fill_files(backend: str, data: Path, groups: Iterable[Group]) -> int:
    """Fill the SQLite or filesystem store whose data lives in ``data`` (on disk): made on
    tmpfs when there is one, then copied over."""
    if not _tmpfs_usable():
        return await fill_in_process(storage_toml(backend, data, "", ""), groups)
    with tempfile.TemporaryDirectory(dir=TMPFS, prefix="bench-fill-") as scratch:
        fast = Path(scratch) / "data"
        created = await fill_in_process(storage_toml(backend, fast, "", ""), groups)
        await asyncio.to_thread(shutil.copytree, fast, data, dirs_exist_ok=True)
    return created


@dataclass(frozen=True)
class FillJob:
    """One store to fill with ``fill`` (``data``: where SQLite and filesystem keep it)."""

    backend: str
    data: Path
    redis_url: str
    prefix: str
    fill: Fill


def run_fill_job(job: FillJob) -> int:
    """Fill ``job``'s store: the hot snapshots, ``fill.cold`` cold and ``fill.listed`` listed
    ones, then ``fill.expired`` expired ones (made ``EXPIRED_AGE`` ago). Returns the count."""
    groups = [(live_bodies(job.fill), 0.0), (expired_bodies(job.fill.expired), EXPIRED_AGE)]
    if job.backend == "redis":
        storage = storage_toml(job.backend, job.data, job.redis_url, job.prefix)
        return asyncio.run(fill_in_process(storage, groups))
    return asyncio.run(fill_files(job.backend, job.data, groups))


async def fill_in_parallel(jobs: list[FillJob]) -> list[int]:
    """Run ``jobs`` at once, each in a process of its own (filling is CPU-bound Python)."""
    if not jobs:
        return []
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")  # nothing of this process's loop inherited
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        return list(
            await asyncio.gather(*(loop.run_in_executor(pool, run_fill_job, j) for j in jobs))
        )
