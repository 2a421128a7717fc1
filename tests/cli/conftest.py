"""The newcomer's server, shared by the ``serve`` and README tests."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.processes import Newcomer, launch_newcomer
from tests.support import free_port


@pytest.fixture
async def newcomer_server(tmp_path: Path) -> AsyncIterator[Newcomer]:
    """``snapshot-server serve`` with no config, in ``tmp_path``, on a free loopback port."""
    for _attempt in range(5):
        server = await launch_newcomer(tmp_path, free_port())
        if server is not None:
            break
    else:
        pytest.fail("serve could not bind a free port in 5 attempts")
    try:
        yield server
    finally:
        if server.process.returncode is None:
            server.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.process.wait(), 10)
