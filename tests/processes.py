"""Real ``snapshot-server serve`` child processes for end-to-end tests: a config file written
from TOML text, a free loopback port, start / wait-healthy / SIGKILL / SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.support import free_port, wait_until_healthy

EDITOR_TOKEN = "e2e-editor-token"
ADMIN_TOKEN = "e2e-admin-token"


def tokens_toml() -> str:
    return (
        f'[[auth.tokens]]\nname = "editor"\ntoken = "{EDITOR_TOKEN}"\nrole = "Editor"\n'
        "user_id = 2\n\n"
        f'[[auth.tokens]]\nname = "admin"\ntoken = "{ADMIN_TOKEN}"\nrole = "Admin"\nuser_id = 1\n'
    )


class ServerProcess:
    """One server process. ``extra_toml`` holds everything but ``[server]`` and the tokens."""

    def __init__(
        self, directory: Path, extra_toml: str, *, port: int | None = None, workers: int = 1
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.config_path = directory / f"server-{self.port}.toml"
        self.log_path = directory / f"server-{self.port}.log"
        self.config_path.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\nworkers = {workers}\n\n'
            f"{extra_toml}\n\n{tokens_toml()}"
        )
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start and wait until ``/api/health`` answers 200."""
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "snapshot_server", "serve", "--config",
                str(self.config_path), cwd=self.directory, stdout=log, stderr=log,
            )  # fmt: skip
        finally:
            log.close()  # the child holds its own copy of the descriptor
        try:
            await wait_until_healthy(self.base_url)
        except BaseException:
            await self.kill()
            raise

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        await self._signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        await self._signal(signal.SIGTERM)

    async def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signum)
            await asyncio.wait_for(self.process.wait(), 20)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
