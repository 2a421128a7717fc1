"""A captured snapshot in the viewer page, in real headless Chromium: the series Prometheus
answered are drawn and named as Grafana would name them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from backends import open_store
from snapshot_server.webapp.app import create_app
from tests.api.conftest import auth
from tests.capture.apps import capture_config, dashboard
from tests.capture.prometheus_server import PrometheusServer
from tests.e2e.browser import browser, open_page
from tests.e2e.test_viewer_browser import assert_clean, texts

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["browser"]  # the fixture, re-exported so pytest finds it here


async def test_the_viewer_shows_captured_series_by_name(
    browser: Browser,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    prometheus: PrometheusServer,
    window: tuple[int, int],
) -> None:
    server = await aiohttp_server(create_app(capture_config(prometheus.url), open_store))
    body = {"dashboard": dashboard(), "capture": {"from": window[0], "to": window[1]}}
    async with (
        ClientSession() as session,
        session.post(server.make_url("/api/snapshots"), json=body, headers=auth("editor")) as made,
    ):
        assert made.status == 200, await made.text()
        url = str(server.make_url(urlsplit((await made.json())["url"]).path))

    page = await open_page(browser, url)
    legends = await texts(page, ".legend-name")
    # displayNameFromDS from the legend formats ({{code}}, {{room}}); else the metric's name
    for name in ("200", "500", "lab", "capture_singleton"):
        assert name in legends, legends
    drawn = await page.page.locator("path.series").evaluate_all(
        "els => els.map(e => [e.dataset.series, e.getAttribute('d').length])"
    )
    lines = dict(drawn)
    for name in ("200", "500", "lab"):
        assert lines[name] > 100  # a line through the 41 points, not an empty path
    await assert_clean(page)
