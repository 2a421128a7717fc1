"""Fixtures of the abuse-limit suite: the real application with ``[limits]`` as a test asks,
its rate limits counted in this process's memory (snapshots in SQLite) or in the session's
real Redis (snapshots there too, as ``serve`` composes it), and a clock for the moving window.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Awaitable, Callable
from typing import Any

import limits.aio.storage.memory
import limits.aio.storage.redis.redispy
import pytest
from aiohttp import web

from backends import open_store, shared_limits
from snapshot_server.abuse import rates
from snapshot_server.abuse.settings import LimitsSettings
from snapshot_server.config import StorageConfig, parse_config
from snapshot_server.webapp.app import create_app
from tests.api.conftest import Client, api_config
from tests.support import ClientFactory, ManualClock, serve

MakeApp = Callable[..., Awaitable[Client]]
MakeConfigured = Callable[[dict[str, Any]], Awaitable[Client]]
LIMITERS = ("memory", "redis")


@pytest.fixture(params=LIMITERS)
def limiter(request: pytest.FixtureRequest) -> str:
    """Where the rate limits count: ``memory`` (snapshots in SQLite) or ``redis``."""
    return str(request.param)


@pytest.fixture
def limited_storage(limiter: str, request: pytest.FixtureRequest) -> StorageConfig:
    backend = "sqlite" if limiter == "memory" else "redis"
    config: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    return config


@pytest.fixture
def make_app(
    aiohttp_client: ClientFactory, limited_storage: StorageConfig, clock: ManualClock
) -> MakeApp:
    """``await make_app(public_mode=..., **limits)``: a client of an app whose ``[limits]``
    are the defaults (enabled) with ``limits`` replaced, rates counted where ``limiter`` says
    (what ``serve`` would choose for its storage)."""

    async def make(*, public_mode: bool = False, **settings: Any) -> Client:
        return await serve(
            aiohttp_client, limited_app(limited_storage, clock, public_mode=public_mode, **settings)
        )

    return make


@pytest.fixture
def make_configured(
    aiohttp_client: ClientFactory, limited_storage: StorageConfig, clock: ManualClock
) -> MakeConfigured:
    """``await make_configured(toml)``: a client of the app a config file holding ``toml``
    gives (its storage and tokens those of the API suite), composed as ``serve`` does."""

    async def make(toml: dict[str, Any]) -> Client:
        parsed = parse_config(toml)
        base = api_config(limited_storage)
        config = dataclasses.replace(base, snapshots=parsed.snapshots, limits=parsed.limits)
        app = create_app(
            config, open_store, clock=clock, limiter_storage=shared_limits(limited_storage)
        )
        return await serve(aiohttp_client, app)

    return make


def limited_app(
    storage: StorageConfig, clock: ManualClock, *, public_mode: bool = False, **settings: Any
) -> web.Application:
    """The application ``serve`` would run over ``storage``, with ``[limits]`` enabled and
    ``settings`` in place of their defaults."""
    config = api_config(storage, public_mode=public_mode)
    config = dataclasses.replace(config, limits=LimitsSettings(**{"enabled": True, **settings}))
    return create_app(config, open_store, clock=clock, limiter_storage=shared_limits(storage))


@pytest.fixture
def window_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The clock of the moving windows: ``limits`` reads ``time.time()`` in its memory and
    redis-py storages (it takes no clock), and so does ``RateLimits`` for Retry-After. This
    puts one that stands still until a test moves it in all three places."""
    clock = ManualClock()
    fake = types.SimpleNamespace(time=clock)
    for module in (limits.aio.storage.memory, limits.aio.storage.redis.redispy, rates):
        monkeypatch.setattr(module, "time", fake)
    return clock
