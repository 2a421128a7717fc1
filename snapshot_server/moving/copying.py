"""Putting snapshots into a store (``import`` and ``migrate``), idempotently.

Each record is looked up by its key first: a snapshot the target holds under that key with the
same deleteKey hash is the same snapshot, copied before, and is skipped (a read, so a re-run
over what is there is cheap; and an insert could not tell: Redis answers an insert identical to
a stored record with that record's id, its retry being idempotent). Otherwise it is inserted as
given (``SnapshotStore.insert`` keeps every field but the id, which is the target's to choose),
then read back and compared. All of this a batch at a time, concurrently (SQLite commits a
batch in one transaction, Redis pipelines the reads). A key or deleteKey held by a different
snapshot is a failure with a line saying which. A record expired by the clock's ``now`` is not
copied.

``StorageUnavailable`` is not a per-record outcome: it ends the run (after the batch's other
inserts finish), and a re-run resumes (skipping what is there already).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..errors import SnapshotError, SnapshotExists, SnapshotNotFound, StorageUnavailable
from ..models import NewSnapshot, SnapshotMeta
from ..storage import SnapshotStore

BATCH = 64
"""Records inserted concurrently: enough to fill SQLite's group commit and Redis pipelines."""


class Outcome(enum.Enum):
    COPIED = "copied"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass
class Tally:
    """How many records ended how."""

    copied: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0

    def add(self, outcome: Outcome) -> None:
        name = outcome.value
        setattr(self, name, getattr(self, name) + 1)

    @property
    def total(self) -> int:
        return self.copied + self.skipped + self.expired + self.failed

    def summary(self) -> str:
        return (
            f"copied {self.copied}, skipped {self.skipped} (already there), "
            f"expired {self.expired} (not copied), failed {self.failed}"
        )


class Placer:
    """Puts records into ``target``; ``report`` is told why each failure failed."""

    def __init__(self, target: SnapshotStore, clock: Clock, report: Callable[[str], None]) -> None:
        self._target = target
        self._clock = clock
        self._report = report

    async def place(self, records: Sequence[NewSnapshot]) -> list[Outcome]:
        """The outcome of each of ``records``, inserted concurrently then read back. Raises
        ``StorageUnavailable`` if the target failed (once every insert of the batch is over)."""
        now = self._clock()
        results = await asyncio.gather(
            *(self._insert(r, now) for r in records), return_exceptions=True
        )
        _raise_first_error(results)
        outcomes = [r for r in results if isinstance(r, Outcome)]
        copied = [r for r, o in zip(records, outcomes, strict=True) if o is Outcome.COPIED]
        checks = await asyncio.gather(*(self._read_back(r, now) for r in copied))
        _raise_first_error(checks)
        differs = {r.meta.key for r, same in zip(copied, checks, strict=True) if not same}
        return [
            Outcome.FAILED if o is Outcome.COPIED and r.meta.key in differs else o
            for r, o in zip(records, outcomes, strict=True)
        ]

    async def _insert(self, record: NewSnapshot, now: float) -> Outcome:
        meta = record.meta
        if meta.is_expired(now):
            return Outcome.EXPIRED
        try:
            held = (await self._target.get(meta.key, now)).meta
        except SnapshotNotFound:
            pass
        else:
            return self._same_or_clash(record, held, "key")
        try:
            await self._target.insert(record)
        except SnapshotExists as exc:
            return await self._already_there(record, exc.field, now)
        except StorageUnavailable:
            raise
        except SnapshotError as exc:
            self._report(f"failed: snapshot {meta.key}: {exc.message}")
            return Outcome.FAILED
        return Outcome.COPIED

    async def _already_there(self, record: NewSnapshot, field: str, now: float) -> Outcome:
        """A refused insert: the same snapshot copied before (skipped), or a clash (failed)."""
        key = record.meta.key
        try:
            if field == "key":
                held = (await self._target.get(key, now)).meta
            else:
                held = await self._target.get_by_delete_key(record.meta.delete_key_hash, now)
        except SnapshotNotFound:
            self._report(
                f"failed: snapshot {key}: its {field} is held by an expired snapshot not yet "
                "removed (run `snapshot-server cleanup` on the target, then again)"
            )
            return Outcome.FAILED
        return self._same_or_clash(record, held, field)

    def _same_or_clash(self, record: NewSnapshot, held: SnapshotMeta, field: str) -> Outcome:
        """Skipped if ``held`` (found by ``record``'s ``field``) is ``record`` copied before."""
        key = record.meta.key
        if held.key == key and held.delete_key_hash == record.meta.delete_key_hash:
            return Outcome.SKIPPED
        self._report(
            f"failed: snapshot {key}: the target holds a different snapshot "
            f"(id {held.id}, key {held.key}) with this {field}"
        )
        return Outcome.FAILED

    async def _read_back(self, record: NewSnapshot, now: float) -> bool:
        """Whether the target now serves exactly ``record`` (any id)."""
        try:
            got = await self._target.get(record.meta.key, now)
        except SnapshotNotFound:
            got = None
        same = (
            got is not None
            and got.dashboard == record.dashboard
            and dataclasses.replace(got.meta, id=0) == record.meta
        )
        if not same:
            self._report(f"failed: snapshot {record.meta.key}: does not read back as written")
        return same


def _raise_first_error(results: Sequence[object]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result
