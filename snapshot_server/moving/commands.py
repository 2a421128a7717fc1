"""``snapshot-server cleanup``, ``export``, ``import`` and ``migrate``: their options, and each
run from config files to an exit status. The stores come from ``Backends``, which the
composition root (``cli``) fills in.

Output: progress (a bar on a terminal, plain lines otherwise) and per-snapshot failures go to
stderr; the summary goes to stdout, or to stderr when stdout carries the export itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from ..cleanup import remove_expired
from ..clock import Clock, system_clock
from ..config import StorageConfig, load_config
from ..errors import ConfigError, StorageUnavailable
from ..storage import SnapshotStore
from . import runs
from .checkpoint import Checkpoint
from .copying import Tally
from .progress import Progress

NAMES = ("cleanup", "export", "import", "migrate")
EXIT_FAILED = 1  # a snapshot failed, or the import file is incomplete
EXIT_USAGE = 2  # bad configuration or arguments
EXIT_STORAGE = 3  # a store could not be opened or stopped answering
EXIT_INTERRUPTED = 130  # Ctrl+C

EXIT_HELP = (
    f"exit status: 0 all done, {EXIT_FAILED} a snapshot failed or the file is incomplete, "
    f"{EXIT_USAGE} bad configuration, {EXIT_STORAGE} storage unavailable, "
    f"{EXIT_INTERRUPTED} interrupted. Run it again to resume: what is there is skipped."
)


@dataclass(frozen=True, slots=True)
class Backends:
    """What the commands need of ``backends`` (handed in by the composition root)."""

    open: Callable[[StorageConfig], Awaitable[SnapshotStore]]
    check: Callable[[StorageConfig], None]
    describe: Callable[[StorageConfig], str]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=description, epilog=EXIT_HELP)

    cleanup = command(
        "cleanup",
        "remove expired snapshots once",
        "Remove every expired snapshot from the storage of a config file (what the server's "
        "cleanup job does every [snapshots] cleanup_interval), and say how many.",
    )
    cleanup.add_argument("--config", metavar="FILE", required=True, help="TOML config file")
    export = command(
        "export",
        "write every snapshot to a file",
        "Write every unexpired snapshot (metadata, the exact dashboard bytes, the deleteKey's "
        "hash: never a secret) as JSON lines, in constant memory.",
    )
    export.add_argument("--config", metavar="FILE", required=True, help="TOML config file")
    export.add_argument("--out", metavar="FILE", help="where to write (default: stdout)")
    load = command(
        "import",
        "load snapshots from an export file",
        "Load the snapshots of an export file: same keys, same deleteKeys, new ids. Snapshots "
        "already there are skipped, so running it again is harmless.",
    )
    load.add_argument("--config", metavar="FILE", required=True, help="TOML config file")
    load.add_argument("file", metavar="FILE.jsonl", help="the export file ('-': stdin)")
    migrate = command(
        "migrate",
        "copy every snapshot from one storage to another",
        "Copy every unexpired snapshot from the storage of one config file to that of another "
        "(export and import without a file).",
    )
    migrate.add_argument(
        "--from", dest="source", metavar="FILE", required=True, help="config of the old storage"
    )
    migrate.add_argument(
        "--to", dest="target", metavar="FILE", required=True, help="config of the new storage"
    )
    migrate.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="record progress here after each batch, and resume after it when run again",
    )


def run(
    args: argparse.Namespace,
    backends: Backends,
    *,
    clock: Clock = system_clock,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command ``args`` names (one of ``NAMES``); its exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    job = _Job(backends, clock, out, err)
    try:
        steps = {"cleanup": job.cleanup, "export": job.export, "import": job.load}
        return asyncio.run(steps.get(args.command, job.migrate)(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except StorageUnavailable as exc:
        print(f"error: storage unavailable: {exc.message}", file=err)
        job.report_so_far()
        return EXIT_STORAGE
    except KeyboardInterrupt:
        print("interrupted", file=err)
        job.report_so_far()
        return EXIT_INTERRUPTED


class _Job:
    def __init__(self, backends: Backends, clock: Clock, out: TextIO, err: TextIO) -> None:
        self._backends = backends
        self._clock = clock
        self._out = out
        self._err = err
        self._tally: Tally | None = None
        self._what = ""

    async def cleanup(self, args: argparse.Namespace) -> int:
        async with AsyncExitStack() as stack:
            store = await self._open(stack, _storage(args.config, self._backends))
            removed = await remove_expired(store, self._clock, None)
        print(f"cleanup: removed {removed} expired snapshot(s)", file=self._out)
        return 0

    async def export(self, args: argparse.Namespace) -> int:
        async with AsyncExitStack() as stack:
            store = await self._open(stack, _storage(args.config, self._backends))
            progress = Progress("export", self._err)
            with ExitStack() as files:
                target = _output(files, args.out)
                count = await runs.export(store, target, self._clock, progress)
            progress.close()
        summary = self._err if args.out is None else self._out
        print(f"export: {count} snapshot(s) written", file=summary)
        return 0

    async def load(self, args: argparse.Namespace) -> int:
        self._tally, self._what = Tally(), "import"
        async with AsyncExitStack() as stack:
            store = await self._open(stack, _storage(args.config, self._backends))
            progress = Progress("import", self._err)
            with ExitStack() as files:
                lines = _input(files, args.file)
                check = await runs.import_lines(store, lines, self._clock, progress, self._tally)
            progress.close()
        if check.problem:
            print(f"error: {args.file}: {check.problem}", file=self._err)
        self.report_so_far()
        return EXIT_FAILED if check.problem or self._tally.failed else 0

    async def migrate(self, args: argparse.Namespace) -> int:
        self._tally, self._what = Tally(), "migrate"
        async with AsyncExitStack() as stack:
            source_config = _storage(args.source, self._backends)
            source = await self._open(stack, source_config)
            target_config = _storage(args.target, self._backends)
            target = await self._open(stack, target_config)
            checkpoint = None
            if args.checkpoint:
                checkpoint = Checkpoint(
                    args.checkpoint,
                    self._where(source_config, args.source),
                    self._where(target_config, args.target),
                )
            progress = Progress("migrate", self._err)
            await runs.migrate(source, target, self._clock, progress, self._tally, checkpoint)
            progress.close()
        self.report_so_far()
        return EXIT_FAILED if self._tally.failed else 0

    def report_so_far(self) -> None:
        if self._tally is not None:
            print(f"{self._what}: {self._tally.summary()}", file=self._out, flush=True)

    async def _open(self, stack: AsyncExitStack, config: StorageConfig) -> SnapshotStore:
        store = await self._backends.open(config)
        stack.push_async_callback(store.aclose)
        return store

    def _where(self, config: StorageConfig, path: str) -> str:
        return f"{self._backends.describe(config)} ({os.path.abspath(path)})"


def _storage(path: str, backends: Backends) -> StorageConfig:
    config = load_config(path).storage
    backends.check(config)
    if config.backend == "memory":
        raise ConfigError(f"{path}: the memory backend keeps no snapshots between runs")
    return config


def _output(files: ExitStack, path: str | None) -> BinaryIO:
    if path is None:
        return sys.stdout.buffer
    try:
        return files.enter_context(open(path, "wb"))
    except OSError as exc:
        raise ConfigError(f"--out {path}: {exc.strerror}") from exc


def _input(files: ExitStack, path: str) -> Iterator[bytes]:
    if path == "-":
        return iter(sys.stdin.buffer)
    try:
        return iter(files.enter_context(open(path, "rb")))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
