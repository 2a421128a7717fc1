"""What the sharing-controls tests share: an app over each backend under test whose password
hashes are real argon2id at a low cost (the default's 64 MiB and three passes would make each
test spend seconds hashing; one test keeps the default), a recording purger, and helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.purge import PurgeDispatcher
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.sharing.passwords import Passwords
from snapshot_server.sharing.settings import SharingSettings
from snapshot_server.webapp.app import create_app
from tests.api.conftest import ROOT_URL, Client, api_config, auth
from tests.support import ClientFactory, ManualClock, serve

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id all the same

MakeSharing = Callable[..., Awaitable[Client]]


@pytest.fixture
def purger() -> RecordingPurger:
    return RecordingPurger()


@pytest.fixture
def make_sharing(
    aiohttp_client: ClientFactory,
    storage_config: StorageConfig,
    clock: ManualClock,
    purger: RecordingPurger,
) -> MakeSharing:
    """``await make_sharing(sharing=SharingSettings(...), workers=N, **snapshots)``: a client
    of the app over the backend under test, purges recorded by ``purger``."""

    async def make(
        *, sharing: SharingSettings | None = None, workers: int = 1, **snapshots: Any
    ) -> Client:
        config = api_config(storage_config, **snapshots)
        if sharing is not None:
            config = dataclasses.replace(config, sharing=sharing)
        if workers != 1:  # as one of `serve --workers N`'s processes
            config = dataclasses.replace(
                config, server=dataclasses.replace(config.server, workers=workers)
            )
        dispatcher = PurgeDispatcher([purger], root_url=ROOT_URL, clock=clock)
        app = create_app(
            config, open_store, clock=clock, dispatcher=dispatcher, passwords=Passwords(CHEAP)
        )
        return await serve(aiohttp_client, app)

    return make


@pytest.fixture
async def sharing_client(make_sharing: MakeSharing) -> Client:
    return await make_sharing()


async def protected(client: Client, user: str = "editor", **body: Any) -> dict[str, Any]:
    """Create a snapshot protected by ``PASSWORD`` (unless given) and return the answer."""
    body.setdefault("password", PASSWORD)
    body.setdefault("dashboard", {"title": "Secret dashboard", "panels": []})
    response = await client.post("/api/snapshots", json=body, headers=auth(user))
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


def with_password(password: str = PASSWORD) -> dict[str, str]:
    return {"X-Snapshot-Password": password}


def set_cookies(response: Any) -> dict[str, str]:
    """The ``Set-Cookie`` headers of ``response`` by cookie name (each header as sent)."""
    return {h.split("=", 1)[0]: h for h in response.headers.getall("Set-Cookie", [])}


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


async def open_form(client: Client, key: str) -> tuple[str, str]:
    """GET the locked page of ``key``: its form's CSRF token, and the form cookie's value."""
    response = await client.get(f"/dashboard/snapshot/{key}")
    assert response.status == 401, await response.text()
    html = await response.text()
    token = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return token, cookie_value(set_cookies(response)["snapshot_form"])


async def post_form(
    client: Client, key: str, password: str, *, headers: dict[str, str] | None = None
) -> Any:
    """Post ``password`` through the locked page's form, as a browser on this server would."""
    token, nonce = await open_form(client, key)
    return await client.post(
        f"/dashboard/snapshot/{key}",
        data={"password": password, "csrf": token},
        headers={"Cookie": f"snapshot_form={nonce}", **(headers or {})},
        allow_redirects=False,
    )


async def access_cookie(client: Client, key: str, password: str = PASSWORD) -> str:
    """The access cookie's value a right ``password`` earns for ``key``."""
    response = await post_form(client, key, password)
    assert response.status == 303, await response.text()
    return cookie_value(set_cookies(response)["snapshot_access"])


@pytest.fixture
def attempts_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The clock of the wrong-password window: ``limits`` reads ``time.time()`` (it takes no
    clock), and so does ``attempts`` for Retry-After. Stands still until a test moves it."""
    import types

    import limits.aio.storage.memory

    from snapshot_server.sharing import attempts

    clock = ManualClock()
    fake = types.SimpleNamespace(time=clock)
    for module in (limits.aio.storage.memory, attempts):
        monkeypatch.setattr(module, "time", fake)
    return clock
