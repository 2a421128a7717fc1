"""Shared fixtures. Every backend under test is a module ``tests/stores/<name>.py`` defining
the fixture ``<name>_storage_config``: a registered backend, or a variant of one (``redis_cluster``
is ``redis`` on a cluster). The modules are found, not listed, and ``storage_config`` is
parametrized over all of them, so the contract and API suites run unchanged against each
(``tests/contract/test_layout.py`` checks every registered backend has one).
``SNAPSHOT_TEST_BACKENDS=sqlite,redis`` narrows a run.

Blocking calls on the event loop: ``SNAPSHOT_SERVER_SLOW_CALLBACK_MS=50 python -m pytest``
runs every test's loop in asyncio debug mode, logging each callback that held it 50 ms or more
(``Executing <...> took X seconds``); the servers the tests start inherit the variable and do
the same (``snapshot_server.loops``). The tests' own reports are also appended to
``$TMPDIR/snapshot-server-slow-callbacks.log`` (named in the run's header); a server's are in
its log, under the run's ``--basetemp``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

from backends import open_store
from snapshot_server import loops
from snapshot_server.config import StorageConfig
from snapshot_server.storage import SnapshotStore
from tests.support import ManualClock

REPO = Path(__file__).resolve().parents[1]
ALL_BACKENDS = tuple(
    sorted(p.stem for p in (REPO / "tests" / "stores").glob("*.py") if p.stem != "__init__")
)

pytest_plugins = [
    *(f"tests.stores.{name}" for name in ALL_BACKENDS),
    "tests.e2e.varnish",
    "tests.redis_servers",
]


# A clone may sit right in the temporary directory (/tmp/clone): its neighbours are then the
# tests' own temporary files, which are allowed.
_ALLOWED = tuple(
    {
        os.path.join(form(place), "")
        for place in (str(REPO), sys.prefix, sys.base_prefix, tempfile.gettempdir())
        for form in (os.path.abspath, os.path.realpath)
    }
)


def _only_read_inside_the_repository(event: str, args: tuple[object, ...]) -> None:
    """A user's clone has nothing beside it: a test that opens a file next to the checkout
    (a fixture kept outside ``tests/``) passes here and fails there, so it fails here too.
    Temporary directories, the interpreter and its packages live elsewhere and are allowed."""
    if event != "open" or not isinstance(args[0], str | Path):
        return
    path = os.path.abspath(args[0])
    beside = str(REPO.parent) + os.sep
    if path.startswith(beside) and not path.startswith(_ALLOWED):
        raise PermissionError(f"tests must not read outside the repository: {path}")


sys.addaudithook(_only_read_inside_the_repository)

SLOW_CALLBACK_LOG = Path(tempfile.gettempdir()) / "snapshot-server-slow-callbacks.log"


def _debug_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loops.debug_from_environment(loop)
    return loop


if loops.slow_callback_seconds() is not None:

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
        """Every test's loop in debug mode (see the module's docstring)."""
        return {"debug": _debug_loop}

    def pytest_configure(config: pytest.Config) -> None:
        # pytest-asyncio's Runner sets its loop's debug flag from this option, after the
        # factory made the loop: without it, debug mode would be switched off again.
        config.option.asyncio_debug = True

    def pytest_report_header(config: pytest.Config) -> str:
        return f"asyncio debug mode; slow callbacks also appended to {SLOW_CALLBACK_LOG}"

    _slow = logging.FileHandler(SLOW_CALLBACK_LOG, delay=True)
    _slow.setLevel(logging.WARNING)
    _slow.setFormatter(logging.Formatter("%(asctime)s %(process)d %(message)s"))
    logging.getLogger("asyncio").addHandler(_slow)


BACKENDS = tuple(
    b for b in os.environ.get("SNAPSHOT_TEST_BACKENDS", ",".join(ALL_BACKENDS)).split(",") if b
)


@pytest.fixture(params=BACKENDS)
def storage_config(request: pytest.FixtureRequest) -> StorageConfig:
    config: StorageConfig = request.getfixturevalue(f"{request.param}_storage_config")
    return config


@pytest.fixture
async def store(storage_config: StorageConfig) -> AsyncIterator[SnapshotStore]:
    opened = await open_store(storage_config)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
