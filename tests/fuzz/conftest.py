"""The live servers the fuzz tests run against: one ``snapshot-server serve`` per backend per
session (per xdist worker). In CI nothing here may skip: a skip (schemathesis skips an operation
it cannot generate cases for) is reported as a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator

import pytest
import requests

from snapshot_server.webapp.openapi import document
from tests.fuzz.live import BACKENDS, SENT, server_toml
from tests.processes import ServerProcess
from tests.support import in_ci


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.skipped and in_ci():
        report.outcome = "failed"
        report.longrepr = f"skipped, and CI=true allows no skip here: {report.longrepr}"
    return report


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of a running server that serves the document the cases are built from.

    On the way down: the server must stop cleanly, having logged no traceback."""
    backend: str = request.param
    directory = tmp_path_factory.mktemp(f"fuzz-{backend}")
    server = ServerProcess(directory, server_toml(backend, directory, request))
    # One event loop for the server's whole life (the loop that started the child watches
    # it); schemathesis itself is synchronous.
    with asyncio.Runner() as runner:
        runner.run(server.start())
        try:
            served = requests.get(f"{server.base_url}api/openapi.json", timeout=10)
            assert served.json() == document(), "the live server serves another document"
            base = server.base_url.rstrip("/")
            yield base
            print(f"\n{backend}: {SENT[base]} requests fuzzed")
        finally:
            code = runner.run(server.stop())
    log = server.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
