"""Shared fixtures. Every backend under test is a module ``tests/stores/<name>.py`` defining
the fixture ``<name>_storage_config``: a registered backend, or a variant of one (``redis_cluster``
is ``redis`` on a cluster). The modules are found, not listed, and ``storage_config`` is
parametrized over all of them, so the contract and API suites run unchanged against each
(``tests/contract/test_layout.py`` checks every registered backend has one).
``SNAPSHOT_TEST_BACKENDS=sqlite,redis`` narrows a run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import open_store
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
