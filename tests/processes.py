"""Real ``snapshot-server serve`` child processes for end-to-end tests: a config file written
from TOML text, a free loopback port, start / wait-healthy / SIGKILL / SIGTERM; and the
newcomer's ``serve`` with no config at all."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.support import free_port

EDITOR_TOKEN = "e2e-editor-token"
ADMIN_TOKEN = "e2e-admin-token"


def tokens_toml() -> str:
    return (
        f'[[auth.tokens]]\nname = "editor"\ntoken = "{EDITOR_TOKEN}"\nrole = "Editor"\n'
        "user_id = 2\n\n"
        f'[[auth.tokens]]\nname = "admin"\ntoken = "{ADMIN_TOKEN}"\nrole = "Admin"\nuser_id = 1\n'
    )


class ServerProcess:
    """One server process. ``extra_toml`` holds everything but ``[server]`` and the tokens.

    Its port may change between starts: while the server is down (between crash rounds, say),
    any other process on the machine may take the port. ``start`` therefore proves that the
    server answering is this one (it accepts a token only this config holds) and moves to a
    fresh port when its process could not bind. ``base_url`` always names the current port.
    """

    def __init__(self, directory: Path, extra_toml: str, *, workers: int = 1) -> None:
        self.directory = directory
        self.extra_toml = extra_toml
        self.workers = workers
        self.probe_token = secrets.token_urlsafe(16)
        self.name = f"server-{secrets.token_hex(4)}"
        self.config_path = directory / f"{self.name}.toml"
        self.log_path = directory / f"{self.name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self._log_offset = 0
        self._use_port(free_port())

    def _use_port(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/"
        self.config_path.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = {self.workers}\n\n'
            f"{self.extra_toml}\n\n{tokens_toml()}\n"
            f'[[auth.tokens]]\nname = "probe"\ntoken = "{self.probe_token}"\nrole = "Viewer"\n'
        )

    async def start(self) -> None:
        """Start, and return once this very process answers; a taken port means a new one."""
        for _attempt in range(5):
            await self._launch()
            if await self._wait_until_ours():
                return
            await self.kill()
            self._use_port(free_port())
        raise AssertionError(f"{self.name} could not start:\n{self.log()[-3000:]}")

    async def _launch(self) -> None:
        log = self.log_path.open("ab")
        self._log_offset = log.tell()  # where this run's output starts
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "snapshot_server", "serve", "--config",
                str(self.config_path), cwd=self.directory, stdout=log, stderr=log,
            )  # fmt: skip
        finally:
            log.close()  # the child holds its own copy of the descriptor

    async def _wait_until_ours(self, within: float = 20.0) -> bool:
        """True once our process has said it serves (every worker is up) and answers; False if
        it exited (could not bind its port)."""
        headers = {"Authorization": f"Bearer {self.probe_token}"}
        url = f"{self.base_url}api/snapshot/shared-options"
        async with asyncio.timeout(within), aiohttp.ClientSession() as session:
            while self.process is not None and self.process.returncode is None:
                try:
                    async with session.get(url, headers=headers) as response:
                        if response.status == 200 and self._announced():
                            return True
                except aiohttp.ClientError:
                    pass  # not listening yet
                await asyncio.sleep(0.05)
        return False

    def _announced(self) -> bool:
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return b"\nserving on http://" in b"\n" + log.read()

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        await self._signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        """SIGTERM: a graceful shutdown. Returns the exit code (None if it was not started)."""
        return await self._signal(signal.SIGTERM)

    async def _signal(self, signum: int) -> int | None:
        code = None
        if self.process is not None:
            if self.process.returncode is None:
                self.process.send_signal(signum)
            code = await asyncio.wait_for(self.process.wait(), 20)
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Newcomer:
    """``serve`` with no config file: SQLite in its working directory, a token printed."""

    base: str
    token: str
    process: asyncio.subprocess.Process
    output: list[str]  # what it printed up to and including the "serving on" line


def newcomer_env() -> dict[str, str]:
    """This environment without a config file named in it."""
    return {k: v for k, v in os.environ.items() if k != "SNAPSHOT_SERVER_CONFIG"}


async def launch_newcomer(directory: Path, port: int) -> Newcomer | None:
    """``serve --port PORT`` with no config, in ``directory``, once it says it is serving;
    ``None`` if it exited first (another process took the port since it was chosen)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snapshot_server", "serve", "--port", str(port), cwd=directory,
        env=newcomer_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = await read_until_serving(process)
    if output is None:
        if process.returncode is None:  # silent but running: not a port taken meanwhile
            process.kill()
            await process.wait()
            raise AssertionError("serve printed no 'serving on' line within 20 s")
        await process.wait()
        return None
    # "serving on" comes once this process has bound the port itself: nothing else answers.
    token = output[output.index("Development token for this run (Admin of org 1):") + 2].strip()
    return Newcomer(f"http://127.0.0.1:{port}/", token, process, output)


async def read_until_serving(process: asyncio.subprocess.Process) -> list[str] | None:
    """The lines printed up to the ``serving on`` line; ``None`` if the process exited (or
    printed nothing for 20 s) first."""
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        except TimeoutError:
            return None
        if not line:
            return None
        lines.append(line.rstrip("\n"))
        if line.startswith("serving on "):
            return lines
