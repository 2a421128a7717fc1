"""``migrate`` interrupted (a killed process, a target that fails after N inserts) resumes from
its checkpoint and finishes with the right counts; a checkpoint is never applied to another
pair of stores."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from backends import check_storage, describe_storage, open_store
from backends.filesystem import FilesystemSettings
from snapshot_server.cli import build_parser, main
from snapshot_server.config import StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import NewSnapshot, SnapshotMeta
from snapshot_server.moving import commands
from snapshot_server.storage import SnapshotStore
from tests.moving.support import (
    assert_config_holds_exactly,
    config_file,
    fill,
    holdings,
    population,
    sqlite,
    summary,
)


async def source_ids(config: StorageConfig) -> list[int]:
    return [s.meta.id for s in await holdings(config, time.time())]


async def keys_in_id_order(config: StorageConfig) -> list[str]:
    return [s.meta.key for s in await holdings(config, time.time())]


def read_checkpoint(path: Path) -> int:
    try:
        value = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return 0
    return int(value["after_id"])


async def test_a_killed_migrate_resumes_from_its_checkpoint(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = population(2000, time.time())
    source = sqlite(scratch, "source")
    target = StorageConfig.using("filesystem", FilesystemSettings(path=str(scratch / "fs")))
    await fill(source, snapshots.records)
    checkpoint = scratch / "checkpoint"
    argv = [
        "migrate",
        "--from",
        config_file(scratch, "from", source),
        "--to",
        config_file(scratch, "to", target),
        "--checkpoint",
        str(checkpoint),
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", *argv, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while read_checkpoint(checkpoint) < 500:  # a few batches in
        assert process.returncode is None, "migrate ended before it could be killed"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)  # waiting on another process: nothing to inject
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    resume_after = read_checkpoint(checkpoint)
    remaining = [i for i in await source_ids(source) if i > resume_after]
    assert 0 < len(remaining) < 2000

    # Run in a thread: the command runs its own event loop.
    assert await asyncio.to_thread(main, argv) == 0
    captured = capsys.readouterr()
    assert f"resuming after source snapshot id {resume_after}" in captured.err
    counts = summary(captured.out)
    # What the killed run inserted after its last checkpoint is found there and skipped.
    assert counts["copied"] + counts["skipped"] == len(remaining)
    assert counts["skipped"] <= 2 * 64
    assert counts["failed"] == counts["expired"] == 0
    await assert_config_holds_exactly(target, snapshots.records)


class FailsAfter:
    """A store whose inserts fail (``StorageUnavailable``) after the first ``count``."""

    def __init__(self, store: SnapshotStore, count: int) -> None:
        self._store = store
        self._left = count

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        if self._left <= 0:
            raise StorageUnavailable("injected: the target went away")
        self._left -= 1
        return await self._store.insert(record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_migrate_whose_target_fails_resumes_and_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = population(500, time.time())
    source, target = sqlite(tmp_path, "source"), sqlite(tmp_path, "target")
    asyncio.run(fill(source, snapshots.records))
    checkpoint = tmp_path / "checkpoint"
    from_config, to_config = (
        config_file(tmp_path, "from", source),
        config_file(tmp_path, "to", target),
    )
    args = build_parser().parse_args(
        ["migrate", "--from", from_config, "--to", to_config, "--checkpoint", str(checkpoint)]
    )

    async def failing_target(config: StorageConfig) -> SnapshotStore:
        store = await open_store(config)
        return cast(SnapshotStore, FailsAfter(store, 200)) if config == target else store

    failing = commands.Backends(failing_target, check_storage, describe_storage)
    assert commands.run(args, failing) == 3
    captured = capsys.readouterr()
    assert "error: storage unavailable: injected: the target went away" in captured.err
    first = summary(captured.out)
    assert first["copied"] == 192  # three whole batches of 64; the fourth failed
    assert read_checkpoint(checkpoint) == 192

    backends = commands.Backends(open_store, check_storage, describe_storage)
    assert commands.run(args, backends) == 0
    second = summary(capsys.readouterr().out)
    # The failed batch's first 8 inserts landed before the failure: found and skipped.
    assert second == {"copied": 300, "skipped": 8, "expired": 0, "failed": 0}
    asyncio.run(assert_config_holds_exactly(target, snapshots.records))
    # Listings (by id) keep their order: SQLite commits a batch's inserts in call order.
    assert asyncio.run(keys_in_id_order(target)) == [r.meta.key for r in snapshots.records]

    # Done: run again, it starts after the last id and finds nothing new.
    assert commands.run(args, backends) == 0
    assert summary(capsys.readouterr().out)["copied"] == 0


def test_a_checkpoint_of_another_pair_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, three = (
        config_file(tmp_path, name, sqlite(tmp_path, name)) for name in ("one", "two", "three")
    )
    checkpoint = str(tmp_path / "checkpoint")
    assert main(["migrate", "--from", one, "--to", two, "--checkpoint", checkpoint]) == 0
    capsys.readouterr()
    assert main(["migrate", "--from", one, "--to", three, "--checkpoint", checkpoint]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --checkpoint {checkpoint}: written by a migrate from sqlite")
    assert "not this one" in err
