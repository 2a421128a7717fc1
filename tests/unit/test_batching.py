"""``ReadBatcher``: lookups that arrive while a fetch is in flight go together in the next one;
a failed fetch fails exactly the lookups of its batch; one caller giving up leaves the others
their answer."""

from __future__ import annotations

import asyncio

import pytest

from backends.batching import ReadBatcher


class Storage:
    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows
        self.fetches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def fetch(self, keys: list[str]) -> dict[str, int]:
        self.fetches.append(keys)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {k: self.rows[k] for k in keys if k in self.rows}


async def test_concurrent_lookups_share_fetches() -> None:
    storage = Storage({"a": 1, "b": 2, "c": 3})
    batcher = ReadBatcher[int](storage.fetch)
    storage.gate.clear()
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)  # the first fetch is in flight, held at the gate
    rest = [asyncio.ensure_future(batcher.get(k)) for k in ("b", "c", "b", "nope")]
    await asyncio.sleep(0)
    storage.gate.set()
    assert await first == 1
    assert await asyncio.gather(*rest) == [2, 3, 2, None]
    assert storage.fetches == [["a"], ["b", "c", "nope"]]  # one key asked for once


async def test_a_failed_fetch_fails_its_batch_only() -> None:
    storage = Storage({"a": 1})
    batcher = ReadBatcher[int](storage.fetch)
    storage.fail = OSError("down")
    with pytest.raises(OSError, match="down"):
        await batcher.get("a")
    storage.fail = None
    assert await batcher.get("a") == 1


async def test_a_caller_giving_up_does_not_cancel_the_others() -> None:
    storage = Storage({"a": 1})
    batcher = ReadBatcher[int](storage.fetch)
    storage.gate.clear()
    impatient = asyncio.ensure_future(batcher.get("a"))
    patient = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)
    impatient.cancel()
    storage.gate.set()
    assert await patient == 1
    assert impatient.cancelled()
