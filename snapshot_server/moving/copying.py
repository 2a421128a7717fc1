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
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..clock import Clock
from ..errors import SnapshotError, SnapshotExists, SnapshotNotFound, StorageUnavailable
from ..models import NewSnapshot, SnapshotMeta
from ..storage import SnapshotStore

T = TypeVar("T")

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
        """The outcome of each of ``records``: all looked up at once, then those not there
        inserted at once (started in order, so the target's ids follow the records' order
        wherever its inserts queue in call order), then read back. Raises
        ``StorageUnavailable`` if the target failed (once every call of the step is over)."""
        now = self._clock()
        outcomes = await _all([self._lookup(r, now) for r in records])
        fresh = [i for i, outcome in enumerate(outcomes) if outcome is None]
        inserted = await _all([self._insert(records[i], now) for i in fresh])
        for i, outcome in zip(fresh, inserted, strict=True):
            outcomes[i] = outcome
        copied = [i for i, outcome in enumerate(outcomes) if outcome is Outcome.COPIED]
        same = await _all([self._read_back(records[i], now) for i in copied])
        for i, ok in zip(copied, same, strict=True):
            if not ok:
                outcomes[i] = Outcome.FAILED
        return [outcome or Outcome.FAILED for outcome in outcomes]

    async def _lookup(self, record: NewSnapshot, now: float) -> Outcome | None:
        """Expired, skipped or failed without an insert; ``None``: to be inserted."""
        if record.meta.is_expired(now):
            return Outcome.EXPIRED
        try:
            held = (await self._target.get(record.meta.key, now)).meta
        except SnapshotNotFound:
            return None
        return self._same_or_clash(record, held, "key")

    async def _insert(self, record: NewSnapshot, now: float) -> Outcome:
        try:
            await self._target.insert(record)
        except SnapshotExists as exc:
            return await self._already_there(record, exc.field, now)
        except StorageUnavailable:
            raise
        except SnapshotError as exc:
            self._report(f"failed: snapshot {record.meta.key}: {exc.message}")
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


async def _all(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``calls`` concurrently (started in order); their results, or the first exception
    once every one of them is over (none is left running behind the caller's back)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)
