"""Fixtures of the capture tests: one real Prometheus per session (per xdist worker) holding
the known series of ``prometheus_server``; without ``prometheus`` or ``promtool``, the tests
are skipped locally and fail in CI (``skip_or_fail``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from backends import open_store
from snapshot_server.webapp.app import create_app
from tests.capture.apps import capture_config
from tests.capture.prometheus_server import PrometheusServer
from tests.support import Client, ClientFactory, ManualClock, find_program, serve, skip_or_fail


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binary = find_program("prometheus", "/usr/bin/prometheus")
    promtool = find_program("promtool", "/usr/bin/promtool")
    if binary is None or promtool is None:
        skip_or_fail("prometheus and promtool are not installed (apt-get install prometheus)")
        raise AssertionError  # not reached: skip_or_fail raises
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), binary, promtool)
    server.load(time.time())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_capture_client(
    aiohttp_client: ClientFactory, clock: ManualClock
) -> Callable[..., Awaitable[Client]]:
    """``await make_capture_client(url, **capture_settings)``: a client of an app that
    captures from ``url`` (``apps.capture_config``)."""

    async def make(url: str, **settings: Any) -> Client:
        app = create_app(capture_config(url, **settings), open_store, clock=clock)
        return await serve(aiohttp_client, app)

    return make


@pytest.fixture
async def capture_client(
    make_capture_client: Callable[..., Awaitable[Client]], prometheus: PrometheusServer
) -> Client:
    return await make_capture_client(prometheus.url)


@pytest.fixture
def window(prometheus: PrometheusServer) -> tuple[int, int]:
    """A 10-minute range (epoch ms) well inside the data, ending on a whole minute."""
    assert prometheus.data is not None
    to = (prometheus.data.last_s - 1800) * 1000
    return to - 600_000, to
