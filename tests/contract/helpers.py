"""Helpers shared by the store tests (contract and per backend) of update, rotate and deletes."""

from __future__ import annotations

from snapshot_server.models import ListQuery, ListScope, SnapshotMeta
from snapshot_server.storage import DeletionWatch, SnapshotStore

PHC = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def watch_of(store: SnapshotStore) -> DeletionWatch:
    watch = store.deletions
    assert watch is not None, "every backend tells caches about deletes"
    return watch


async def listed(store: SnapshotStore, now: float, query: str = "") -> list[SnapshotMeta]:
    """Org 1's snapshots matching ``query``, first page of 100."""
    return await store.list_snapshots(ListScope(1), ListQuery(query, 100, 1), now)
