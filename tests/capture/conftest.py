"""Fixtures of the capture tests: one real Prometheus per session (per xdist worker) holding
the known series of ``prometheus_server``; without ``prometheus`` or ``promtool``, the tests
are skipped locally and fail in CI (``skip_or_fail``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.capture.prometheus_server import PrometheusServer
from tests.support import find_program, skip_or_fail


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
