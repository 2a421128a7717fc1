"""Directories for the stores these tests fill: in memory (``/dev/shm``) where the machine has
it, since a filesystem-backend insert is four fsyncs and 2,000 of them on a busy disk take a
minute; the backend's durability is tested on a real disk elsewhere (``tests/crash``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

RAM = "/dev/shm"


def _scratch(fallback: Path) -> Iterator[Path]:
    if not (os.path.isdir(RAM) and os.access(RAM, os.W_OK)):
        yield fallback
        return
    directory = Path(tempfile.mkdtemp(prefix="snapshot-server-test-", dir=RAM))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory for this test's stores."""
    yield from _scratch(tmp_path)


@pytest.fixture(scope="session")
def session_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory for stores shared by the session's tests (filled once, copied)."""
    yield from _scratch(tmp_path_factory.mktemp("scratch"))
