"""The workers' metrics directory: private to one server, gone after it, and the leftovers of a
killed server removed by the next one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from snapshot_server.metrics_sharing import MULTIPROC_ENV, PREFIX, remove_abandoned, shared_metrics


def dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                             capture_output=True, text=True)  # fmt: skip
    return int(process.stdout)


def test_the_directory_lives_for_the_block_and_the_variable_is_restored() -> None:
    before = os.environ.get(MULTIPROC_ENV)
    with shared_metrics() as metrics:
        directory = metrics.directory
        assert os.environ[MULTIPROC_ENV] == str(directory)
        assert directory.is_dir()
        assert directory.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert list(directory.iterdir()) == []  # fresh: nothing from an earlier run
        (directory / "counter_1.db").write_bytes(b"x")
    assert not directory.exists()
    assert os.environ.get(MULTIPROC_ENV) == before


def test_directories_of_dead_servers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"{PREFIX}{dead_pid()}-abc"
    alive = tmp_path / f"{PREFIX}{os.getpid()}-def"
    unrelated = tmp_path / "snapshot-server-metrics-notapid"
    for directory in (dead, alive, unrelated):
        directory.mkdir()
        (directory / "gauge_livesum_1.db").write_bytes(b"x")
    assert remove_abandoned(tmp_path) == [dead]
    assert not dead.exists()
    assert alive.exists()
    assert unrelated.exists()
