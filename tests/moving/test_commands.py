"""``cleanup``, ``export``, ``import`` and ``migrate`` as an operator meets them: expired
snapshots left behind, damaged or truncated files, clashes, bad configs, unreachable storage,
progress lines, and what the export file holds (never a secret)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from backends import check_storage, describe_storage, open_store
from snapshot_server.cli import build_parser, main
from snapshot_server.models import NewSnapshot, Snapshot
from snapshot_server.moving import commands
from snapshot_server.moving.exchange import header, snapshot_line, trailer
from snapshot_server.moving.progress import Progress
from tests.moving.support import (
    assert_config_holds_exactly,
    config_file,
    fill,
    holdings,
    population,
    sqlite,
    summary,
)
from tests.stores.redis import redis_config
from tests.support import ManualClock, new_record

BACKENDS = commands.Backends(open_store, check_storage, describe_storage)


def export_file(path: Path, records: list[NewSnapshot], *, end: int | None = None) -> Path:
    """An export file of ``records`` (ids made up), its end line counting ``end`` (default:
    all); ``end=-1`` leaves the end line out."""
    lines = [header()]
    lines += [
        snapshot_line(Snapshot(r.stored_as(i), r.dashboard)) for i, r in enumerate(records, 1)
    ]
    if end != -1:
        lines.append(trailer(len(records) if end is None else end))
    path.write_bytes(b"".join(lines))
    return path


def test_cleanup_removes_the_expired_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = population(30, time.time(), expired=12)
    storage = sqlite(tmp_path, "s")
    asyncio.run(fill(storage, snapshots.records))
    config = config_file(tmp_path, "c", storage)
    assert main(["cleanup", "--config", config]) == 0
    assert capsys.readouterr().out == "cleanup: removed 12 expired snapshot(s)\n"
    assert main(["cleanup", "--config", config]) == 0
    assert capsys.readouterr().out == "cleanup: removed 0 expired snapshot(s)\n"
    assert len(asyncio.run(holdings(storage, time.time()))) == 30


def test_expired_snapshots_are_neither_exported_nor_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    snapshots = population(20, now, expired=5)
    storage = sqlite(tmp_path, "s")
    asyncio.run(fill(storage, snapshots.records))
    out = tmp_path / "e.jsonl"
    assert main(["export", "--config", config_file(tmp_path, "c", storage), "--out", str(out)]) == 0
    assert "export: 20 snapshot(s) written" in capsys.readouterr().out
    # A file made while they were live: import drops what has expired since.
    live = export_file(tmp_path / "old.jsonl", snapshots.records)
    target = sqlite(tmp_path, "t")
    assert main(["import", "--config", config_file(tmp_path, "t", target), str(live)]) == 0
    assert summary(capsys.readouterr().out) == {
        "copied": 20,
        "skipped": 0,
        "expired": 5,
        "failed": 0,
    }
    assert len(asyncio.run(holdings(target, now))) == 20


def test_a_damaged_line_fails_alone_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = population(40, time.time())
    path = export_file(tmp_path / "e.jsonl", snapshots.records)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"snapshot": {"key": "half\n'  # torn
    bad_base64 = orjson.loads(lines[10])
    bad_base64["dashboard"] = "not base64!"
    lines[10] = orjson.dumps(bad_base64) + b"\n"
    no_etag = orjson.loads(lines[20])
    del no_etag["snapshot"]["etag"]
    lines[20] = orjson.dumps(no_etag) + b"\n"
    path.write_bytes(b"".join(lines))
    target = sqlite(tmp_path, "t")
    assert main(["import", "--config", config_file(tmp_path, "t", target), str(path)]) == 1
    captured = capsys.readouterr()
    assert summary(captured.out) == {"copied": 37, "skipped": 0, "expired": 0, "failed": 3}
    assert "failed: line 4: the line is not JSON" in captured.err
    assert "failed: line 11: snapshot " in captured.err
    assert "dashboard is not valid base64" in captured.err
    assert "failed: line 21: snapshot metadata: field 'etag' missing or mistyped" in captured.err
    intact = [r for i, r in enumerate(snapshots.records, 2) if i not in (4, 11, 21)]
    asyncio.run(assert_config_holds_exactly(target, intact))


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (-1, "the file has no end line: it may be truncated"),
        (99, "the end line counts 99 snapshots, but 10 lines hold one"),
    ],
)
def test_an_incomplete_file_is_imported_as_far_as_it_goes_and_fails(
    end: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots = population(10, time.time())
    path = export_file(tmp_path / "e.jsonl", snapshots.records, end=end)
    target = sqlite(tmp_path, "t")
    assert main(["import", "--config", config_file(tmp_path, "t", target), str(path)]) == 1
    captured = capsys.readouterr()
    assert f"error: {path}: {message}" in captured.err
    assert summary(captured.out)["copied"] == 10


def test_a_file_that_is_no_export_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dashboards.json"
    path.write_bytes(b'{"dashboard": {}}\n')
    target = sqlite(tmp_path, "t")
    assert main(["import", "--config", config_file(tmp_path, "t", target), str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 1: not a snapshot-server export: the first line is not its header" in err
    assert asyncio.run(holdings(target, time.time())) == []


def test_a_key_held_by_another_snapshot_fails_with_a_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    snapshots = population(5, now)
    target = sqlite(tmp_path, "t")
    squatter = new_record(now, key=snapshots.records[2].meta.key, delete_key="someone-else")
    asyncio.run(fill(target, [squatter]))
    path = export_file(tmp_path / "e.jsonl", snapshots.records)
    assert main(["import", "--config", config_file(tmp_path, "t", target), str(path)]) == 1
    captured = capsys.readouterr()
    assert summary(captured.out) == {"copied": 4, "skipped": 0, "expired": 0, "failed": 1}
    key = squatter.meta.key
    assert (
        f"failed: snapshot {key}: the target holds a different snapshot (id 1, key {key}) "
        "with this key" in captured.err
    )
    (kept,) = [s for s in asyncio.run(holdings(target, now)) if s.meta.key == key]
    assert kept.meta.delete_key_hash == squatter.meta.delete_key_hash


def test_export_to_stdout_holds_hashes_never_secrets(tmp_path: Path) -> None:
    snapshots = population(25, time.time())
    storage = sqlite(tmp_path, "s")
    asyncio.run(fill(storage, snapshots.records))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snapshot_server",
            "export",
            "--config",
            config_file(tmp_path, "c", storage),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 27
    assert lines[-1] == {"end": True, "count": 25}
    assert done.stderr.decode().endswith("export: 25 snapshot(s) written\n")
    for secret in snapshots.delete_keys.values():
        assert secret.encode() not in done.stdout
    hashes = {line["snapshot"]["delete_key_hash"] for line in lines[1:-1]}
    assert hashes == {r.meta.delete_key_hash for r in snapshots.records}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[storage]\nbackend = 'nope'\n", "storage.backend: must be one of"),
        ("[storage]\nbackend = 'memory'\n", "the memory backend keeps no snapshots between runs"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    toml: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    for argv in (["cleanup", "--config", str(config)], ["export", "--config", str(config)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ")
        assert message in err
        assert "Traceback" not in err


def test_unreachable_storage_is_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support import free_port

    dead = redis_config(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    config = config_file(tmp_path, "dead", dead)
    assert main(["export", "--config", config]) == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "error: storage unavailable: cannot connect to Redis at redis://127.0.0.1"
    )
    assert "Traceback" not in err


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one() -> None:
    plain = io.StringIO()
    progress = Progress("migrate", plain, every=100)
    for _ in range(5):
        progress.advance(64)
    progress.note("failed: something")
    progress.close()
    assert plain.getvalue().splitlines() == [
        "migrate: 128 snapshots",
        "migrate: 256 snapshots",
        "failed: something",
        "migrate: 320 snapshots",
    ]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = Progress("migrate", terminal)
    bar.advance(64)
    bar.close()
    assert "\r" in terminal.getvalue()
    assert "64 snapshots" in terminal.getvalue()


def test_migrate_leaves_behind_what_expired_by_its_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock()
    records = [
        dataclasses.replace(r, meta=dataclasses.replace(r.meta, expires=clock() + 100))
        if i % 2
        else r
        for i, r in enumerate(population(10, clock()).records)
    ]
    source, target = sqlite(tmp_path, "s"), sqlite(tmp_path, "t")
    asyncio.run(fill(source, records))
    clock.advance(100)  # the odd ones expire at this instant
    argv = ["migrate", "--from", config_file(tmp_path, "s", source)]
    args = build_parser().parse_args([*argv, "--to", config_file(tmp_path, "t", target)])
    assert commands.run(args, BACKENDS, clock=clock) == 0
    counts = summary(capsys.readouterr().out)
    assert counts == {"copied": 5, "skipped": 0, "expired": 0, "failed": 0}
    asyncio.run(assert_config_holds_exactly(target, records[::2]))
