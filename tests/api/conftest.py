"""Fixtures for the API suite: the real application over each backend under test, with a
manual clock, driven through aiohttp's test client (real HTTP on a loopback port)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from backends import open_store
from snapshot_server.abuse.settings import LimitsSettings
from snapshot_server.config import (
    AuthConfig,
    Config,
    ServerConfig,
    SnapshotsConfig,
    StorageConfig,
    token_config,
)
from snapshot_server.webapp.app import create_app
from tests.support import ClientFactory, ManualClock, serve

ROOT_URL = "https://snapshots.example.test/"

# name -> (token, org_id, user_id, role)
USERS: dict[str, tuple[str, int, int, str]] = {
    "admin": ("admin-token", 1, 1, "Admin"),
    "editor": ("editor-token", 1, 2, "Editor"),
    "editor2": ("editor2-token", 1, 3, "Editor"),
    "viewer": ("viewer-token", 1, 4, "Viewer"),
    "other_org": ("other-org-token", 2, 5, "Admin"),
}

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


def auth(user: str) -> dict[str, str]:
    """Headers that authenticate as one of ``USERS``."""
    return {"Authorization": f"Bearer {USERS[user][0]}"}


def api_config(storage: StorageConfig, **snapshots: Any) -> Config:
    tokens = tuple(
        token_config(name, token, role=role, org_id=org, user_id=user)
        for name, (token, org, user, role) in USERS.items()
    )
    max_body = snapshots.pop("max_body", 1 << 20)
    limits = snapshots.pop("limits", LimitsSettings())
    return Config(
        server=ServerConfig(root_url=ROOT_URL, max_body_bytes=max_body),
        storage=storage,
        snapshots=dataclasses.replace(SnapshotsConfig(), **snapshots),
        auth=AuthConfig(tokens=tokens),
        limits=limits,
    )


@pytest.fixture
def make_client(
    aiohttp_client: ClientFactory,
    storage_config: StorageConfig,
    clock: ManualClock,
) -> MakeClient:
    """``await make_client(**snapshots_settings)``: a client for an app configured so."""

    async def make(**snapshots: Any) -> Client:
        app = create_app(api_config(storage_config, **snapshots), open_store, clock=clock)
        return await serve(aiohttp_client, app)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


async def create(
    client: Client, user: str = "editor", status: int = 200, **body: Any
) -> dict[str, Any]:
    """POST a snapshot (a small dashboard unless given) and return the JSON answer."""
    body.setdefault("dashboard", {"title": "Test dashboard", "panels": []})
    response = await client.post("/api/snapshots", json=body, headers=auth(user))
    assert response.status == status, await response.text()
    data: dict[str, Any] = await response.json()
    return data
