"""Listing and cleanup through each backend's indexes: every page of every scope (an org, a
user) is exactly what filtering all snapshots in id order gives, through interleaved inserts,
deletes, expiries and cleanup; ``delete_expired`` takes the earliest expiries first, across
orgs. Run against every backend in ``tests/conftest.py``."""

from __future__ import annotations

import random

from snapshot_server.models import ListQuery, ListScope, SnapshotMeta
from snapshot_server.storage import SnapshotStore
from tests.support import ManualClock, new_record

SCOPES = (ListScope(1), ListScope(1, 1), ListScope(1, 2), ListScope(2), ListScope(2, 1))
QUERIES = ("", "ALPHA", "beta 1")


def expected(
    stored: list[SnapshotMeta], scope: ListScope, query: ListQuery, now: float
) -> list[SnapshotMeta]:
    """The page as the contract defines it: a filter of everything, in id order."""
    matches = [
        m
        for m in sorted(stored, key=lambda m: m.id)
        if scope.includes(m) and not m.is_expired(now) and query.needle in m.name.casefold()
    ]
    return matches[query.offset : query.offset + query.limit]


async def check_every_page(store: SnapshotStore, stored: list[SnapshotMeta], now: float) -> None:
    for scope in SCOPES:
        for text in QUERIES:
            for limit, page in ((7, 1), (7, 2), (7, 5), (100, 1)):
                query = ListQuery(text, limit, page)
                got = await store.list_snapshots(scope, query, now)
                assert got == expected(stored, scope, query, now), (scope, query)


async def test_pages_of_every_scope_follow_inserts_deletes_and_cleanup(
    store: SnapshotStore, clock: ManualClock
) -> None:
    rng = random.Random(12)
    stored: list[SnapshotMeta] = []
    for i in range(90):
        record = new_record(
            clock(),
            name=f"{rng.choice(['Alpha', 'beta'])} {i}",
            org_id=rng.choice((1, 1, 2)),
            user_id=rng.choice((1, 2, 3)),
            expires_in=rng.choice((None, 10.0, 20.0, 1000.0)),
        )
        stored.append(await store.insert(record))
    await check_every_page(store, stored, clock())

    for meta in rng.sample(stored, 20):
        await store.delete(meta.key, clock(), expect_id=meta.id)
        stored.remove(meta)
    await check_every_page(store, stored, clock())

    clock.advance(10)  # some expired, not yet removed: skipped by every page
    await check_every_page(store, stored, clock())

    clock.advance(10)
    removed: list[SnapshotMeta] = []
    while gone := await store.delete_expired(clock(), limit=4):
        removed += gone
    assert sorted(removed, key=lambda m: m.id) == [m for m in stored if m.is_expired(clock())]
    stored = [m for m in stored if not m.is_expired(clock())]
    more = [await store.insert(new_record(clock(), name=f"alpha {i}")) for i in range(3)]
    await check_every_page(store, stored + more, clock())


async def test_delete_expired_takes_the_earliest_expiries_first_across_orgs(
    store: SnapshotStore, clock: ManualClock
) -> None:
    by_expiry = {}
    for expires_in, org in ((30, 1), (10, 2), (20, 1), (40, 2), (5, 3), (50, 1)):
        record = new_record(clock(), org_id=org, expires_in=expires_in)
        by_expiry[expires_in] = await store.insert(record)
    clock.advance(45)
    first = await store.delete_expired(clock(), limit=3)
    assert sorted(m.id for m in first) == sorted(by_expiry[e].id for e in (5, 10, 20))
    rest = await store.delete_expired(clock(), limit=3)
    assert sorted(m.id for m in rest) == sorted(by_expiry[e].id for e in (30, 40))
    assert await store.delete_expired(clock(), limit=3) == []
    page = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    assert page == [by_expiry[50]]
