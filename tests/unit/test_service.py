"""SnapshotService on its own: permissions, expiry, keys and purge triggers, over the memory
store (the contract's reference backend) and a clock moved by hand."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import orjson
import pytest

from backends.memory import MemoryStore
from snapshot_server import errors
from snapshot_server.auth import ANONYMOUS, Identity
from snapshot_server.config import Config, ServerConfig, SnapshotsConfig, role_scopes
from snapshot_server.creating import CreateRequest
from snapshot_server.models import HUNDRED_YEARS, ListQuery, NewSnapshot, SnapshotMeta
from snapshot_server.service import SnapshotService
from tests.support import ManualClock

ROOT = "https://snap.example/"


def _deep(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"d": value}
    return value


def user(user_id: int, role: str = "Editor", org_id: int = 1) -> Identity:
    return Identity(org_id=org_id, user_id=user_id, role=role, scopes=role_scopes(role))


EDITOR, OTHER_EDITOR, ADMIN, VIEWER = user(2), user(3), user(1, "Admin"), user(4, "Viewer")
OTHER_ORG_ADMIN = user(5, "Admin", org_id=2)


def request(**fields: Any) -> CreateRequest:
    defaults: dict[str, Any] = {
        "dashboard": {"title": "t"},
        "name": "n",
        "expires": 0,
        "external": False,
        "key": None,
        "delete_key": None,
    }
    return CreateRequest(**{**defaults, **fields})


class Purges(list[tuple[str, str]]):
    def __call__(self, key: str, reason: str) -> None:
        self.append((key, reason))


@pytest.fixture
def purges() -> Purges:
    return Purges()


def make(clock: ManualClock, purges: Purges | None = None, **snapshots: Any) -> SnapshotService:
    config = Config(
        server=ServerConfig(root_url=ROOT),
        snapshots=dataclasses.replace(SnapshotsConfig(), **snapshots),
    )
    return SnapshotService(config, MemoryStore(), clock=clock, purge=purges)


async def test_create_generates_two_distinct_keys_and_stores_the_callers_snapshot(
    clock: ManualClock,
) -> None:
    service = make(clock)
    created = await service.create(EDITOR, request(expires=60))
    meta = created.snapshot
    assert re.fullmatch(r"[0-9A-Za-z]{32}", meta.key)
    assert re.fullmatch(r"[0-9A-Za-z]{32}", created.delete_key)
    assert meta.key != created.delete_key
    assert (meta.org_id, meta.user_id, meta.name) == (1, 2, "n")
    assert (meta.created, meta.expires) == (clock(), clock() + 60)
    assert service.view_url(meta.key) == f"{ROOT}dashboard/snapshot/{meta.key}"
    assert (
        service.delete_url(created.delete_key) == f"{ROOT}api/snapshots-delete/{created.delete_key}"
    )
    stored = await service.view(ANONYMOUS, meta.key)
    assert orjson.loads(stored.dashboard) == {"title": "t"}


async def test_create_sanitizes_before_storing(clock: ManualClock) -> None:
    service = make(clock, scrub=True)
    dashboard = {"snapshot": {"originalUrl": "javascript:x"}, "panels": [{"targets": [{"e": 1}]}]}
    created = await service.create(EDITOR, request(dashboard=dashboard))
    stored = await service.view(ANONYMOUS, created.snapshot.key)
    assert orjson.loads(stored.dashboard) == {"snapshot": {}, "panels": [{}]}


@pytest.mark.parametrize(
    ("identity", "settings", "error"),
    [
        (ANONYMOUS, {}, errors.Unauthorized),
        (VIEWER, {}, errors.Forbidden),
        (EDITOR, {"enabled": False}, errors.Forbidden),
    ],
)
async def test_who_may_not_create(
    clock: ManualClock, identity: Identity, settings: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await make(clock, **settings).create(identity, request())


async def test_public_mode_creates_anonymously_as_org_1_user_0(clock: ManualClock) -> None:
    created = await make(clock, public_mode=True).create(ANONYMOUS, request())
    assert (created.snapshot.org_id, created.snapshot.user_id) == (1, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": "bad key"}, "key must match"),
        ({"delete_key": "x" * 129}, "deleteKey must match"),
        ({"key": "same", "delete_key": "same"}, "key and deleteKey must differ"),
        ({"expires": HUNDRED_YEARS + 1}, "expires must be at most"),
        # orjson reads 1024 levels but writes only 254: refused, not a 500
        ({"dashboard": _deep(300)}, "nested too deeply"),
    ],
)
async def test_invalid_create_is_refused(
    clock: ManualClock, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(errors.InvalidSnapshot) as info:
        await make(clock).create(EDITOR, request(**fields))
    assert message in info.value.message


async def test_external_is_refused_while_publishing_is_off(clock: ManualClock) -> None:
    with pytest.raises(errors.Forbidden) as info:
        await make(clock).create(EDITOR, request(external=True))
    assert info.value.message == "External dashboard creation is disabled"


@pytest.mark.parametrize(
    ("asked", "max_expires", "lives"),
    [(0, 0, None), (-5, 0, None), (60, 0, 60), (0, 600, 600), (600, 600, 600)],
)
async def test_expiry(clock: ManualClock, asked: int, max_expires: int, lives: int | None) -> None:
    created = await make(clock, max_expires=max_expires).create(EDITOR, request(expires=asked))
    assert created.snapshot.expires == (None if lives is None else clock() + lives)


async def test_expiry_above_the_configured_limit_names_it(clock: ManualClock) -> None:
    with pytest.raises(errors.InvalidSnapshot) as info:
        await make(clock, max_expires=600).create(EDITOR, request(expires=601))
    assert "snapshots.max_expires" in info.value.message


async def test_never_is_shown_as_fifty_years_and_cached_as_configured(clock: ManualClock) -> None:
    service = make(clock, cache_max_age=300)
    forever = (await service.create(EDITOR, request())).snapshot
    soon = (await service.create(EDITOR, request(expires=100))).snapshot
    assert service.shown_expiry(forever) == forever.created + 50 * 365 * 86400
    assert service.shown_expiry(soon) == soon.expires
    assert service.cache_max_age(forever) == 300
    clock.advance(30.5)
    assert service.cache_max_age(soon) == 69  # whole seconds left, never past the expiry
    assert make(clock, view_requires_auth=True).cache_max_age(soon) is None


async def test_a_colliding_generated_key_is_drawn_again(clock: ManualClock) -> None:
    class CollidesOnce(MemoryStore):
        collided = False

        async def insert(self, record: NewSnapshot) -> SnapshotMeta:
            if not self.collided:
                self.collided = True
                raise errors.SnapshotExists("key")
            return await super().insert(record)

    store = CollidesOnce()
    service = SnapshotService(Config(), store, clock=clock)
    assert (await service.create(EDITOR, request())).snapshot.id == 1
    store.collided = False
    with pytest.raises(errors.SnapshotExists):  # a key the client chose is never replaced
        await service.create(EDITOR, request(key="chosen"))


async def test_view_is_gone_the_instant_it_expires(clock: ManualClock) -> None:
    service = make(clock)
    key = (await service.create(EDITOR, request(expires=10))).snapshot.key
    clock.advance(9.999)
    assert (await service.view(ANONYMOUS, key)).meta.key == key
    clock.advance(0.001)
    with pytest.raises(errors.SnapshotNotFound):
        await service.view(ANONYMOUS, key)


@pytest.mark.parametrize("key", ["", "../x", "k" * 129, "k\n"])
async def test_malformed_keys_are_never_found(clock: ManualClock, key: str) -> None:
    with pytest.raises(errors.SnapshotNotFound):
        await make(clock).view(ANONYMOUS, key)


async def test_views_needing_a_token(clock: ManualClock) -> None:
    service = make(clock, view_requires_auth=True)
    key = (await service.create(EDITOR, request())).snapshot.key
    with pytest.raises(errors.Unauthorized):
        await service.view(ANONYMOUS, key)
    assert (await service.view(VIEWER, key)).meta.key == key
    no_read = dataclasses.replace(VIEWER, scopes=frozenset())
    with pytest.raises(errors.Forbidden):
        await service.view(no_read, key)


@pytest.mark.parametrize(
    ("caller", "outcome"),
    [
        (EDITOR, None),
        (ADMIN, None),
        (OTHER_EDITOR, errors.Forbidden),
        (VIEWER, errors.Forbidden),
        (OTHER_ORG_ADMIN, errors.SnapshotNotFound),
        (ANONYMOUS, errors.Unauthorized),
    ],
)
async def test_who_may_delete_by_key(
    clock: ManualClock, purges: Purges, caller: Identity, outcome: type[Exception] | None
) -> None:
    service = make(clock, purges)
    made = (await service.create(EDITOR, request())).snapshot
    if outcome is None:
        assert (await service.delete_by_key(caller, made.key)).id == made.id
        assert purges == [(made.key, "delete")]
        return
    with pytest.raises(outcome):
        await service.delete_by_key(caller, made.key)
    assert purges == []
    assert (await service.view(ANONYMOUS, made.key)).meta.id == made.id


async def test_delete_by_delete_key(clock: ManualClock, purges: Purges) -> None:
    service = make(clock, purges)
    created = await service.create(EDITOR, request())
    with pytest.raises(errors.SnapshotNotFound):  # the view key is not a deleteKey
        await service.delete_by_delete_key(created.snapshot.key)
    assert (await service.delete_by_delete_key(created.delete_key)).id == created.snapshot.id
    assert purges == [(created.snapshot.key, "delete-key")]
    with pytest.raises(errors.SnapshotNotFound):
        await service.delete_by_delete_key(created.delete_key)


@pytest.mark.parametrize("delete_key", ["unknown", "", "bad key"])
async def test_grafana_compat_turns_every_not_found_delete_into_its_500(
    clock: ManualClock, delete_key: str
) -> None:
    with pytest.raises(errors.ExternalDeleteFailed) as info:
        await make(clock, grafana_external_compat=True).delete_by_delete_key(delete_key)
    assert info.value.message == "Failed to get dashboard snapshot"


async def test_list_scope(clock: ManualClock) -> None:
    service = make(clock)
    mine = (await service.create(EDITOR, request(name="mine"))).snapshot
    theirs = (await service.create(OTHER_EDITOR, request(name="theirs"))).snapshot
    await service.create(OTHER_ORG_ADMIN, request())
    assert [m.id for m in await service.list(EDITOR, ListQuery("", 10, 1))] == [mine.id]
    assert [m.id for m in await service.list(ADMIN, ListQuery("", 10, 1))] == [mine.id, theirs.id]
    assert [m.id for m in await service.list(ADMIN, ListQuery("THE", 10, 1))] == [theirs.id]
    with pytest.raises(errors.Unauthorized):
        await service.list(ANONYMOUS, ListQuery("", 10, 1))
    assert await make(clock, public_mode=True).list(ANONYMOUS, ListQuery("", 10, 1)) == []


async def test_cleanup_removes_every_expired_snapshot_in_batches(
    clock: ManualClock, purges: Purges
) -> None:
    service = make(clock, purges)
    doomed = [(await service.create(EDITOR, request(expires=5))).snapshot.key for _ in range(7)]
    kept = (await service.create(EDITOR, request())).snapshot.key
    clock.advance(5)
    assert await service.cleanup_expired(batch=3) == 7
    assert sorted(purges) == sorted((key, "expired") for key in doomed)
    clock.advance(-5)
    for key in doomed:
        with pytest.raises(errors.SnapshotNotFound):
            await service.view(ANONYMOUS, key)
    assert (await service.view(ANONYMOUS, kept)).meta.key == kept


def test_deleted_message_says_whether_caches_are_purged(clock: ManualClock) -> None:
    assert make(clock).deleted_message().startswith("Snapshot deleted. It might take an hour")
    assert make(clock, Purges()).deleted_message() == (
        "Snapshot deleted. CDN caches are being purged."
    )
