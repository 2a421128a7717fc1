"""Fixtures of the filesystem backend's own tests: a root directory and a store opened on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.filesystem import FilesystemStore
from tests.backends.fs_support import config_for


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store" / "root"


@pytest.fixture
async def fs(root: Path) -> AsyncIterator[FilesystemStore]:
    store = await FilesystemStore.open(config_for(root))
    try:
        yield store
    finally:
        await store.aclose()
