"""A password-protected snapshot's page in a real headless Chromium: the locked page, a wrong
password (nothing shown, no cookie), the right one (the dashboard, an HttpOnly SameSite=Strict
cookie for this snapshot's paths), then a reload that does not ask again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tests.e2e.browser import TIMEOUT_MS, TOKEN, browser, real_app

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["browser"]  # fixture, re-exported so pytest finds it here

PASSWORD = "open sesame 42"
TITLE = "Protected revenue board"
PANEL = "Private panel"


async def test_wrong_then_right_password_then_reload_without_asking(
    browser: Browser, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> None:
    server = await aiohttp_server(real_app())
    body = {
        "dashboard": {"title": TITLE, "panels": [{"id": 1, "type": "text", "title": PANEL}]},
        "password": PASSWORD,
    }
    async with (
        ClientSession() as session,
        session.post(
            server.make_url("/api/snapshots"),
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        key = (await response.json())["key"]
    url = str(server.make_url(f"/dashboard/snapshot/{key}"))

    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    locked = await page.goto(url)
    assert locked is not None
    assert locked.status == 401
    assert TITLE not in await page.content()
    assert PANEL not in await page.content()

    await page.fill("input[name=password]", "not it at all")
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert await page.locator(".unlock-error").inner_text() == "Wrong password. Try again."
    assert TITLE not in await page.content()
    assert [c["name"] for c in await context.cookies()] == ["snapshot_form"]

    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert page.url == url
    await page.locator("html[data-viewer-ready='1']").wait_for()
    assert TITLE in await page.content()
    assert PANEL in await page.locator(".panel-title").all_inner_texts()
    access = [c for c in await context.cookies() if c["name"] == "snapshot_access"]
    assert {c["path"] for c in access} == {f"/dashboard/snapshot/{key}", f"/api/snapshots/{key}"}
    for cookie in access:
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"

    reloaded = await page.reload()
    assert reloaded is not None
    assert reloaded.status == 200
    assert await page.locator("input[name=password]").count() == 0
    assert TITLE in await page.content()
    assert errors == []

    # Another browser (no cookie) is asked again.
    stranger = await (await browser.new_context()).new_page()
    again = await stranger.goto(url)
    assert again is not None
    assert again.status == 401
    assert TITLE not in await stranger.content()
