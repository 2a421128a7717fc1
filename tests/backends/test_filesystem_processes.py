"""Several server processes sharing one filesystem store root (spawned, like real workers)."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path
from typing import Any

from backends.filesystem import FilesystemStore
from snapshot_server.errors import SnapshotExists
from snapshot_server.models import ListQuery, ListScope
from tests.backends.fs_support import config_for
from tests.support import ManualClock, new_record


def _worker(root: str, tag: int, count: int, barrier: Any, results: Any) -> None:
    """One server process: race the others for a key and a deleteKey, then insert ``count``."""
    try:
        results.put((tag, asyncio.run(_insert_many(root, tag, count, barrier))))
    except BaseException as exc:
        results.put((tag, repr(exc)))


async def _insert_many(
    root: str, tag: int, count: int, barrier: Any
) -> tuple[list[int], list[str], str, str]:
    store = await FilesystemStore.open(config_for(Path(root)))
    clock = ManualClock()
    contested = []
    try:
        barrier.wait(timeout=60)
        for record in (
            new_record(clock(), "contested-key"),
            new_record(clock(), f"own-{tag}", "contested-dk"),
        ):
            try:
                await store.insert(record)
                contested.append("ok")
            except SnapshotExists as exc:
                contested.append(exc.field)
        ids, keys = [], []
        for i in range(count):
            stored = await store.insert(new_record(clock(), f"p{tag}-{i}"))
            ids.append(stored.id)
            keys.append(stored.key)
    finally:
        await store.aclose()
    return ids, keys, contested[0], contested[1]


async def test_several_processes_share_one_root(tmp_path: Path, clock: ManualClock) -> None:
    root = tmp_path / "root"
    processes, per_process = 4, 50
    # Open before the workers write: its in-memory journal view must catch up incrementally.
    early = await FilesystemStore.open(config_for(root))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(str(root), tag, per_process, barrier, results))
        for tag in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = dict(
            await asyncio.to_thread(lambda: [results.get(timeout=120) for _ in workers])
        )
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert all(isinstance(o, tuple) for o in outcomes.values()), outcomes
    all_ids: list[int] = []
    all_keys: list[str] = []
    for ids, keys, _, _ in outcomes.values():
        assert ids == sorted(ids)  # increasing in each process's creation order
        all_ids += ids
        all_keys += keys
    assert len(set(all_ids)) == processes * per_process
    assert sorted(o[2] for o in outcomes.values()) == ["key"] * (processes - 1) + ["ok"]
    assert sorted(o[3] for o in outcomes.values()) == ["deleteKey"] * (processes - 1) + ["ok"]

    late = await FilesystemStore.open(config_for(root))
    try:
        listed = await late.list_snapshots(ListScope(1), ListQuery("", 5000, 1), clock())
        assert await early.list_snapshots(ListScope(1), ListQuery("", 5000, 1), clock()) == listed
        assert len(listed) == processes * per_process + 2
        assert [m.id for m in listed] == sorted(m.id for m in listed)
        assert set(all_keys) <= {m.key for m in listed}
        assert {"contested-key"} <= {m.key for m in listed}
        # Every id handed out was used: the contested losers burnt none.
        assert max(m.id for m in listed) == processes * per_process + 2
        assert (root / "counter").read_bytes() == f"snapshot-counter/1 {len(listed)}\n".encode()
    finally:
        await late.aclose()
        await early.aclose()
