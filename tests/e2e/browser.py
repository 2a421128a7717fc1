"""Fixtures for viewer tests: a real headless Chromium, a page recorder, and the pages to open.

Chromium is the system's (Debian ``chromium``), driven by Playwright without any browser download.
No chromium binary -> ``skip_or_fail`` (fails in CI). Every page records its console errors,
uncaught exceptions and every URL it requested, so tests can assert "no errors, only localhost".
``viewer_url(name)`` gives the share link of a fixture dashboard on a loopback server.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from backends import open_store
from snapshot_server.config import AuthConfig, Config, StorageConfig, token_config
from snapshot_server.webapp.app import create_app
from tests.support import find_program, skip_or_fail
from tests.viewer.dashboards import (
    FIXTURE_NAMES,
    large_dashboard,
    load_body,
    many_panels_dashboard,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Request

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).with_name("artifacts")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
TIMEOUT_MS = 20_000


def find_chromium() -> str | None:
    """The system Chromium's path, or ``None`` when it is not installed."""
    return find_program("chromium", *CHROMIUM_PATHS)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless system Chromium (one per test; closed at teardown)."""
    path = find_chromium()
    if path is None:
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        skip_or_fail("the playwright Python package is not installed")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class RecordedPage:
    """A page plus what it did: requested URLs, console errors and uncaught exceptions."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requested URLs that left loopback (``data:`` URLs never touch the network)."""
        return [
            url
            for url in self.requests
            if not url.startswith("data:") and urlsplit(url).hostname not in LOOPBACK_HOSTS
        ]

    async def screenshot(self, name: str) -> Path:
        """A full-page PNG under ``tests/e2e/artifacts/`` (git-ignored); returns its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def open_page(
    browser: Browser, url: str, *, width: int = 1440, height: int = 900
) -> RecordedPage:
    """A new page at ``url`` (waited until loaded), recording from before the first request."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    recorded = RecordedPage(page)

    def on_request(request: Request) -> None:
        recorded.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            recorded.console_errors.append(f"{message.type}: {message.text}")

    def on_page_error(error: Exception) -> None:
        recorded.page_errors.append(str(error))

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    response = await page.goto(url, wait_until="load")
    assert response is not None, url
    assert response.status == 200, url
    return recorded


STATIC_PREFIX = "/public/snapshot-viewer/"
TOKEN = "e2e-viewer-token"
ViewerUrl = Callable[[str], str]


def real_app() -> web.Application:
    """The real application over the memory store, with one Editor token."""
    return create_app(
        Config(
            storage=StorageConfig(backend="memory"),
            auth=AuthConfig(tokens=(token_config("e2e", TOKEN, role="Editor"),)),
        ),
        open_store,
    )  # fmt: skip


@pytest.fixture
async def viewer_url(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> ViewerUrl:
    """``viewer_url(name)``: the share link of fixture ``name`` ("real", "large", "many" included).

    Each fixture is created through the real app with ``POST /api/snapshots`` and the ``url``
    it returns is opened (on our loopback server), as a person given the link would.
    """
    bodies = {name: load_body(name) for name in (*FIXTURE_NAMES, "real")}
    bodies["large"] = {"dashboard": large_dashboard(), "name": "large", "expires": 3600}
    # Past the page's panel limit (200): the rest are listed, not drawn.
    bodies["many"] = {"dashboard": many_panels_dashboard(panels=250), "name": "many"}
    server = await aiohttp_server(real_app())
    urls: dict[str, str] = {}
    async with ClientSession() as session:
        for name, body in bodies.items():
            async with session.post(
                server.make_url("/api/snapshots"),
                # A stream: aiohttp warns that a multi-MB bytes body could stall the loop.
                data=io.BytesIO(json.dumps(body).encode()),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            ) as response:
                assert response.status == 200, await response.text()
                created = await response.json()
            # The returned url is on the configured root_url; open the same path here.
            urls[name] = str(server.make_url(urlsplit(created["url"]).path))
    urls["nope"] = str(server.make_url("/dashboard/snapshot/nope"))
    return urls.__getitem__
