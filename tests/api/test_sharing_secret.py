"""The secret that signs access cookies: one per deployment, as ``serve`` composes it. Two
applications over the same storage (two workers, or a restart) accept each other's cookies;
the secret is kept beside the data (sqlite, filesystem: a 0600 file; redis: a key), or read
from ``[sharing] cookie_secret_file``."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
from pathlib import Path

import pytest
from redis.asyncio import Redis

from backends import open_store
from snapshot_server.cli import cookie_secret_of
from snapshot_server.config import StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.sharing.passwords import Passwords
from snapshot_server.sharing.secret import kept_file_secret, read_secret_file
from snapshot_server.sharing.settings import SharingSettings
from snapshot_server.webapp.app import create_app
from tests.api.conftest import Client, api_config
from tests.api.sharing_support import CHEAP, access_cookie, protected
from tests.stores.redis import redis_settings
from tests.support import ClientFactory, ManualClock, serve

SHARED = ("sqlite", "filesystem", "redis")


async def deployment(
    aiohttp_client: ClientFactory, storage: StorageConfig, clock: ManualClock, **sharing: str
) -> Client:
    """An application over ``storage`` with the cookie secret ``serve`` would give it."""
    config = dataclasses.replace(api_config(storage), sharing=SharingSettings(**sharing))  # type: ignore[arg-type]
    app = create_app(
        config,
        open_store,
        clock=clock,
        cookie_secret=cookie_secret_of(config),
        passwords=Passwords(CHEAP),
    )
    return await serve(aiohttp_client, app)


@pytest.mark.parametrize("backend", SHARED)
async def test_workers_and_restarts_on_one_storage_accept_each_others_cookies(
    backend: str,
    request: pytest.FixtureRequest,
    aiohttp_client: ClientFactory,
    clock: ManualClock,
) -> None:
    storage: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    first = await deployment(aiohttp_client, storage, clock)
    key = (await protected(first))["key"]
    cookie = {"Cookie": f"snapshot_access={await access_cookie(first, key)}"}
    second = await deployment(aiohttp_client, storage, clock)
    assert (await second.get(f"/api/snapshots/{key}", headers=cookie)).status == 200
    await first.close()  # a restart: the secret outlives the process
    third = await deployment(aiohttp_client, storage, clock)
    assert (await third.get(f"/api/snapshots/{key}", headers=cookie)).status == 200
    if backend == "redis":
        settings = redis_settings(storage)
        client = Redis.from_url(settings.url)
        try:
            assert await client.ttl(f"{settings.key_prefix}cookie-secret") == -1  # no expiry
        finally:
            await client.aclose()
    else:
        kept = Path(str(storage.section().data["path"]) + ".cookie-secret")
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600


async def test_an_operators_secret_file_is_used_and_checked(
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    clock: ManualClock,
    sqlite_storage_config: StorageConfig,
) -> None:
    secret = tmp_path / "cookie-secret"
    secret.write_text("x" * 40 + "\n")
    assert read_secret_file(secret) == b"x" * 40
    first = await deployment(
        aiohttp_client, sqlite_storage_config, clock, cookie_secret_file=str(secret)
    )
    key = (await protected(first))["key"]
    cookie = {"Cookie": f"snapshot_access={await access_cookie(first, key)}"}
    # Another secret file: the cookie no longer opens anything.
    other = tmp_path / "other-secret"
    other.write_text("y" * 40)
    second = await deployment(
        aiohttp_client, sqlite_storage_config, clock, cookie_secret_file=str(other)
    )
    assert (await second.get(f"/api/snapshots/{key}", headers=cookie)).status == 401
    kept = str(sqlite_storage_config.section().data["path"]) + ".cookie-secret"
    assert not await asyncio.to_thread(os.path.exists, kept)
    secret.write_text("too short")
    with pytest.raises(StorageUnavailable, match="at least 32"):
        read_secret_file(secret)
    with pytest.raises(StorageUnavailable, match="cannot read"):
        read_secret_file(tmp_path / "missing")


async def test_first_starts_at_the_same_moment_agree(tmp_path: Path) -> None:
    path = tmp_path / "data" / "snapshots.db.cookie-secret"
    secrets = await asyncio.gather(*(asyncio.to_thread(kept_file_secret, path) for _ in range(8)))
    assert len(set(secrets)) == 1
    assert len(secrets[0]) == 64
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temporary file left behind
