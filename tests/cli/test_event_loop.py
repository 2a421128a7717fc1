"""The event loop ``serve`` runs on (``snapshot_server.loops``): uvloop when installed (the
``uvloop`` extra, also in the ``test`` extra so CI has it), in the main process and in every
worker, said in the log; asyncio's own, silently, without it; debug mode from the
environment."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapshot_server import loops
from tests.processes import Newcomer, ServerProcess
from tests.support import skip_or_fail


def require_uvloop() -> None:
    if importlib.util.find_spec("uvloop") is None:
        skip_or_fail("uvloop not installed (pip install -e '.[test]')")


async def test_serve_runs_on_uvloop_when_installed(newcomer_server: Newcomer) -> None:
    require_uvloop()
    said = [line for line in newcomer_server.output if "event loop: " in line]
    assert len(said) == 1
    assert said[0].split("event loop: ")[1].startswith("uvloop ")


async def test_every_worker_runs_on_uvloop(tmp_path: Path) -> None:
    require_uvloop()
    storage = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    server = ServerProcess(tmp_path, storage, workers=2)
    await server.start()
    try:
        said = [line for line in server.log().splitlines() if "event loop: " in line]
    finally:
        await server.stop()
    assert len(said) == 2
    assert all(line.split("event loop: ")[1].startswith("uvloop ") for line in said)


def test_without_uvloop_the_loop_is_asyncios_own() -> None:
    """With the module unimportable, ``loops.run`` falls back without a word."""
    script = (
        "import sys; sys.modules['uvloop'] = None\n"
        "import asyncio\n"
        "from snapshot_server import loops\n"
        "async def kind(): return loops.describe(asyncio.get_running_loop())\n"
        "print(loops.run(kind()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != loops.SLOW_CALLBACK_ENV}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True, env=env)
    assert done.stdout == "asyncio\n"
    assert done.stderr == ""


def test_debug_mode_and_slow_callback_threshold_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(loops.SLOW_CALLBACK_ENV, "50")
    loop = loops.new_loop()
    try:
        assert loop.get_debug()
        assert loop.slow_callback_duration == 0.05
        assert loops.describe(loop).endswith(" (debug)")
    finally:
        loop.close()
    for unset in ("", "0", "soon"):
        monkeypatch.setenv(loops.SLOW_CALLBACK_ENV, unset)
        loop = loops.new_loop()
        try:
            assert not loop.get_debug()
        finally:
            loop.close()


def test_run_returns_what_the_coroutine_returns() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert loops.run(answer()) == 42
