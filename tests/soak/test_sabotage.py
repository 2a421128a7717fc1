"""The soak, end to end, catches a server that breaks its promises: a short run against the
real application on a memory store that misbehaves once (loses an acknowledged create, keeps a
snapshot it said it deleted, or fails with a 500) must fail, naming what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from backends.memory import MemoryStore
from snapshot_server.config import AuthConfig, Config, ServerConfig, StorageConfig, token_config
from snapshot_server.models import NewSnapshot, SnapshotMeta
from snapshot_server.webapp.app import StoreOpener, create_app
from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN
from tests.support import SnapshotTestServer

from .load import Soak
from .model import Checker
from .records import SoakFailure


class LosesACreate(MemoryStore):
    """Acknowledges the fifth never-expiring create, then forgets it."""

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        stored = await super().insert(record)
        self.lasting = getattr(self, "lasting", 0) + (record.meta.expires is None)
        if record.meta.expires is None and self.lasting == 5:
            await super().delete(stored.key, stored.created, expect_id=stored.id)
        return stored


class KeepsADelete(MemoryStore):
    """Answers the third delete by deleteKey of a never-expiring snapshot without deleting."""

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        meta = await super().get_by_delete_key(delete_key_hash, now)
        if meta.expires is None:
            self.kept = getattr(self, "kept", 0) + 1
            if self.kept == 3:
                return meta
        return await super().delete_by_delete_key(delete_key_hash, now)


class FailsAListing(MemoryStore):
    async def list_snapshots(self, *args: object, **kwargs: object) -> list[SnapshotMeta]:
        raise RuntimeError("a bug")


def soak_against(store: type[MemoryStore]) -> AbstractAsyncContextManager[Soak]:
    """A 2-second soak (4 clients) against the application on ``store``, served meanwhile."""
    config = Config(
        server=ServerConfig(root_url="http://snapshots.test/"),
        storage=StorageConfig(backend="memory"),
        auth=AuthConfig(
            tokens=(
                token_config("editor", EDITOR_TOKEN, role="Editor", user_id=2),
                token_config("admin", ADMIN_TOKEN, role="Admin", user_id=1),
            )
        ),
    )
    opener: StoreOpener = store.open

    @asynccontextmanager
    async def serving() -> AsyncIterator[Soak]:
        async with SnapshotTestServer(create_app(config, opener)) as server:
            yield Soak(str(server.make_url("/")), Checker(), seed=11, seconds=2, clients=4)

    return serving()


async def test_the_soak_passes_a_correct_server() -> None:
    async with soak_against(MemoryStore) as soak:
        await soak.run()
    assert soak.checker.counts["creates acknowledged"] > 0
    assert soak.checker.counts["deletes acknowledged"] > 0


@pytest.mark.parametrize(
    ("store", "caught"),
    [
        (LosesACreate, "LOST"),
        (KeepsADelete, "RESURRECTED"),
        (FailsAListing, "list: 500"),
    ],
)
async def test_the_soak_catches_a_broken_server(store: type[MemoryStore], caught: str) -> None:
    async with soak_against(store) as soak:
        with pytest.raises(SoakFailure, match=caught):
            await soak.run()
