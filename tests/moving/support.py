"""Snapshots to move, stores to move them between, and the commands' summaries read back."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from backends import open_store
from backends.sqlite import SQLiteSettings
from snapshot_server.config import StorageConfig
from snapshot_server.models import NewSnapshot, Snapshot
from snapshot_server.storage import SnapshotStore
from tests.support import new_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Dashboards as Grafana writes them (tests/fixtures), and bytes a re-encoding would change:
# spacing, escapes, key order, non-ASCII, numbers JSON parsers round.
REAL = [p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))]
TRICKY = [
    b'{ "title" : "spaced",\n\t"panels" : [ ] }',
    b'{"z":1,"a":2,"title":"\\u00e9\\ud83d\\ude00 escaped"}',
    '{"title":"ünïcode ✓ 日本語","v":1.10,"big":12345678901234567890123}'.encode(),
    b"",  # an external snapshot's pointer has no dashboard
]


@dataclass(frozen=True, slots=True)
class Population:
    """Records to insert, and the plaintext deleteKey of each (by view key)."""

    records: list[NewSnapshot]
    delete_keys: dict[str, str]


def population(count: int, now: float, *, expired: int = 0) -> Population:
    """``count`` snapshots over three orgs, every tenth external, some expiring (never before
    ``now`` + one day), some updated after creation; then ``expired`` already expired at
    ``now``."""
    records, delete_keys = [], {}
    for i in range(count + expired):
        delete_key = secrets.token_urlsafe(16)
        dashboard = TRICKY[i % len(TRICKY)] if i % 7 == 0 else REAL[i % len(REAL)]
        record = new_record(
            now - 1000,
            delete_key=delete_key,
            name=f"snapshot {i} ✓",
            org_id=1 + i % 3,
            user_id=i % 5,
            expires_in=None if i % 2 else 86400 + 1000 + i,
            dashboard=dashboard,
        )
        meta = dataclasses.replace(record.meta, updated=now - 500 + i, etag=f'"etag-{i}"')
        if i % 10 == 3:
            meta = dataclasses.replace(
                meta,
                external=True,
                external_url=f"https://remote.example/dashboard/snapshot/{i}",
                external_delete_url=f"https://remote.example/api/snapshots-delete/{i}",
            )
        if i >= count:
            meta = dataclasses.replace(meta, expires=now - 1)
        records.append(NewSnapshot(meta, b"" if meta.external else dashboard))
        delete_keys[meta.key] = delete_key
    return Population(records, delete_keys)


async def fill(config: StorageConfig, records: list[NewSnapshot], batch: int = 50) -> None:
    """Insert ``records`` into the store of ``config``, ``batch`` at a time concurrently (every
    insert of a batch over before a failure is raised)."""
    store = await open_store(config)
    try:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            results = await asyncio.gather(
                *(store.insert(r) for r in chunk), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
    finally:
        await store.aclose()


def sqlite(directory: Path, name: str) -> StorageConfig:
    """An SQLite store in ``directory``, in the file ``NAME.db``."""
    return StorageConfig.using("sqlite", SQLiteSettings(path=str(directory / f"{name}.db")))


async def holdings(config: StorageConfig, now: float) -> list[Snapshot]:
    """Every snapshot the store of ``config`` serves at ``now``, in id order."""
    store = await open_store(config)
    try:
        return await store.export_page(0, 100_000, now)
    finally:
        await store.aclose()


def config_file(directory: Path, name: str, storage: StorageConfig) -> str:
    """A config file holding ``storage`` (its backend and table), for the commands."""
    lines = ["[storage]", f"backend = {json.dumps(storage.backend)}"]
    lines.append(f"[storage.{storage.backend}]")
    for key, value in storage.tables.get(storage.backend, {}).items():
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    path = directory / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


SUMMARY = re.compile(
    r"(?P<what>import|migrate): copied (?P<copied>\d+), skipped (?P<skipped>\d+) \(already "
    r"there\), expired (?P<expired>\d+) \(not copied\), failed (?P<failed>\d+)"
)


def summary(output: str) -> dict[str, int]:
    """The counts of the one summary line in ``output``."""
    (match,) = list(SUMMARY.finditer(output))
    return {k: int(v) for k, v in match.groupdict().items() if k != "what"}


async def assert_holds_exactly(
    store: SnapshotStore, records: list[NewSnapshot], now: float
) -> None:
    """``store`` serves each of ``records`` byte for byte, every metadata field but the id as
    given, and holds nothing else."""
    wanted = {r.meta.key: r for r in records}
    seen = 0
    after = 0
    while page := await store.export_page(after, 500, now):
        for snapshot in page:
            record = wanted[snapshot.meta.key]
            assert snapshot.dashboard == record.dashboard, snapshot.meta.key
            assert dataclasses.replace(snapshot.meta, id=0) == record.meta
            seen += 1
        after = page[-1].meta.id
    assert seen == len(wanted)


async def assert_config_holds_exactly(config: StorageConfig, records: list[NewSnapshot]) -> None:
    """``assert_holds_exactly`` on the store of ``config``, now."""
    store = await open_store(config)
    try:
        await assert_holds_exactly(store, records, time.time())
    finally:
        await store.aclose()


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
