"""Metrics of ``serve --workers N`` summed over the workers: prometheus-client's multiprocess
mode, in a directory only this server uses.

The supervisor creates the directory (``shared_metrics``) before it starts any worker and names
it in ``$PROMETHEUS_MULTIPROC_DIR``, which each worker inherits: prometheus-client reads it when
it is first imported, and from then on every value that worker counts lives in a file there.
Whichever worker answers ``/metrics`` reads all the files (``shared_registry``). When a worker
exits its gauges stop counting (``worker_exited``); its counters stay, so totals never go back.
The directory is removed when the server stops, and directories left by servers that were
killed (no chance to remove theirs) are removed by the next one that starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "snapshot-server-metrics-"
_OWNER = re.compile(re.escape(PREFIX) + r"(\d+)-")


class SharedMetrics:
    """The directory of one server's worker metrics."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def worker_exited(self, pid: int) -> None:
        """Stop counting worker ``pid``'s live gauges (its counters are kept)."""
        multiprocess.mark_process_dead(pid, str(self.directory))  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def shared_metrics() -> Iterator[SharedMetrics]:
    """A fresh, private metrics directory in ``$PROMETHEUS_MULTIPROC_DIR`` for the processes
    started within the block; removed, and the variable restored, after it."""
    remove_abandoned(Path(tempfile.gettempdir()))
    directory = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield SharedMetrics(directory)
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the metrics directories under ``parent`` whose server process is gone (it was
    killed before it could remove its own). Returns them."""
    removed = []
    for path in parent.glob(PREFIX + "*"):
        match = _OWNER.match(path.name)
        if match is None or not path.is_dir() or _alive(int(match[1])):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


def shared_registry(directory: str) -> CollectorRegistry:
    """A registry that collects, at each scrape, every process's values in ``directory``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry
