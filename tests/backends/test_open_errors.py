"""``snapshot-server serve`` over storage it cannot open: one clear line naming the path and the
OS error on stderr, exit status 3, no traceback (issue 9, item 17)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.support import free_port


async def serve(config: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:  # it started serving instead of refusing: stop it
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


@pytest.mark.parametrize("backend", ["sqlite", "filesystem"])
async def test_storage_that_cannot_be_opened_is_one_clear_line(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "a-directory" if backend == "sqlite" else tmp_path / "a-link"
    if backend == "sqlite":
        path.mkdir()  # a database path that is a directory
        expected = f"cannot open SQLite database '{path}': Is a directory"
    else:
        path.symlink_to(tmp_path, target_is_directory=True)
        expected = f"cannot open filesystem storage {path}: is a symbolic link"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nport = {free_port()}\n[storage]\nbackend = "{backend}"\n'
        f'[storage.{backend}]\npath = "{path}"\n'
    )
    # The SQLite traceback came from a thread racing the exit: a few runs, not one.
    for _ in range(3):
        status, err = await serve(config)
        assert status == 3, err
        assert f"error: storage unavailable: {expected}" in err
        assert "Traceback" not in err
        assert "Event loop is closed" not in err
