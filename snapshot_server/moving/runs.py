"""The work of ``export``, ``import`` and ``migrate``, on open stores: each streams, holding at
most one page or batch of snapshots in memory, and counts what it did in a ``Tally`` the caller
owns (so a run cut short by ``StorageUnavailable`` still reports how far it got)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from ..clock import Clock
from ..models import NewSnapshot
from ..storage import SnapshotStore
from .checkpoint import Checkpoint
from .copying import BATCH, Outcome, Placer, Tally
from .exchange import BadLine, check_header, read_line, snapshot_line, trailer
from .exchange import header as export_header
from .progress import Progress

PAGE = 100
"""Snapshots ``export`` reads per page (with ~20 KB dashboards: ~2 MB held at a time)."""


async def export(store: SnapshotStore, out: BinaryIO, clock: Clock, progress: Progress) -> int:
    """Write every unexpired snapshot of ``store`` to ``out`` as an export file; how many."""
    out.write(export_header())
    count, after = 0, 0
    while page := await store.export_page(after, PAGE, clock()):
        out.write(b"".join(map(snapshot_line, page)))
        count += len(page)
        after = page[-1].meta.id
        progress.advance(len(page))
    out.write(trailer(count))
    out.flush()
    return count


@dataclass
class FileCheck:
    """What ``import`` found wrong with the file as a whole (not with single snapshots)."""

    problem: str = ""


async def import_lines(
    store: SnapshotStore,
    lines: Iterable[bytes],
    clock: Clock,
    progress: Progress,
    tally: Tally,
) -> FileCheck:
    """Place the snapshots of an export file's ``lines`` in ``store``. A line that is not a
    snapshot counts as failed (``progress`` notes which and why) and the rest go on; a file
    that is not an export at all, or whose end line is missing or disagrees with the lines
    read (a truncated or spliced file), is reported in the returned ``FileCheck``."""
    placer = Placer(store, clock, progress.note)
    numbered = enumerate(lines, start=1)
    first = next(numbered, None)
    try:
        check_header(first[1] if first else b"")
    except BadLine as exc:
        return FileCheck(f"line 1: {exc}")
    batch: list[NewSnapshot] = []
    seen, expected = 0, None
    for number, line in numbered:
        if not line.strip():
            continue
        if expected is not None:
            tally.add(Outcome.FAILED)
            progress.note(f"failed: line {number}: after the end line")
            continue
        try:
            item = read_line(line)
        except BadLine as exc:
            seen += 1
            tally.add(Outcome.FAILED)
            progress.note(f"failed: line {number}: {exc}")
            continue
        if isinstance(item, int):
            expected = item
            continue
        seen += 1
        batch.append(item)
        if len(batch) == BATCH:
            await _place(placer, batch, progress, tally)
            batch = []
    await _place(placer, batch, progress, tally)
    if expected is None:
        return FileCheck("the file has no end line: it may be truncated")
    if expected != seen:
        return FileCheck(f"the end line counts {expected} snapshots, but {seen} lines hold one")
    return FileCheck()


async def migrate(
    source: SnapshotStore,
    target: SnapshotStore,
    clock: Clock,
    progress: Progress,
    tally: Tally,
    checkpoint: Checkpoint | None,
) -> None:
    """Place every unexpired snapshot of ``source`` in ``target``, from the checkpoint on
    (when given), saving it after each batch."""
    placer = Placer(target, clock, progress.note)
    after = 0
    if checkpoint is not None and (after := checkpoint.load()):
        progress.note(f"resuming after source snapshot id {after} ({checkpoint.path})")
    while page := await source.export_page(after, BATCH, clock()):
        records = [NewSnapshot(dataclasses.replace(s.meta, id=0), s.dashboard) for s in page]
        await _place(placer, records, progress, tally)
        after = page[-1].meta.id
        if checkpoint:
            checkpoint.save(after)
    if checkpoint:
        checkpoint.save(after)  # even when nothing was copied: it names the pair


async def _place(
    placer: Placer, batch: list[NewSnapshot], progress: Progress, tally: Tally
) -> None:
    if not batch:
        return
    for outcome in await placer.place(batch):
        tally.add(outcome)
    progress.advance(len(batch))
