"""A real ``varnishd`` for tests: ``varnish_factory(backend_port)`` starts one on a free
loopback port with ``tests/e2e/varnish.vcl`` pointed at that backend, in its own ``-n``
workdir, and stops it at teardown. No varnishd binary → ``skip_or_fail`` (fails in CI).

Besides its HTTP port it listens on ``proxy_port`` with the PROXY protocol, so a test can
make a request "from" any client address (e.g. to see the purge ACL refuse an outsider)
while only ever using loopback sockets.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import find_program, free_port, skip_or_fail

VARNISHD_PATHS = ("/usr/sbin/varnishd", "/usr/local/sbin/varnishd")
VCL_TEMPLATE = Path(__file__).with_name("varnish.vcl")
START_TIMEOUT = 20.0


def find_varnishd() -> str | None:
    """The varnishd binary's path, or ``None`` when Varnish is not installed."""
    return find_program("varnishd", *VARNISHD_PATHS)


def render_vcl(backend_port: int, backend_host: str = "127.0.0.1") -> str:
    """``varnish.vcl`` with its backend placeholders filled in."""
    text = VCL_TEMPLATE.read_text()
    return text.replace("__BACKEND_HOST__", backend_host).replace(
        "__BACKEND_PORT__", str(backend_port)
    )


class Varnish:
    """One varnishd process; ``url`` is its client address (``http://127.0.0.1:PORT``)."""

    def __init__(self, binary: str, workdir: Path, backend_port: int) -> None:
        self.binary = binary
        self.workdir = workdir
        self.backend_port = backend_port
        self.port = 0
        self.proxy_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "varnishd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start varnishd and return once it accepts connections. A taken port (another
        test grabbed it between probe and bind) is retried on a new one; other failures
        raise ``RuntimeError`` with varnishd's own output."""
        self.vcl.write_text(render_vcl(self.backend_port))
        for _ in range(3):
            self.port, self.proxy_port = free_port(), free_port()
            if self._try_start():
                return
        raise RuntimeError(f"varnishd did not start:\n{self.log_path.read_text()[-3000:]}")

    def restart(self) -> None:
        """Start the stopped varnishd again on the same ports, as a cache node that comes back
        (its cache empty). Raises ``RuntimeError`` if it cannot (e.g. the port was taken)."""
        self.stop()
        if not self._try_start():
            raise RuntimeError(f"varnishd did not restart:\n{self.log_path.read_text()[-3000:]}")

    @property
    def vcl(self) -> Path:
        return self.workdir / "varnish.vcl"

    def _try_start(self) -> bool:
        log = self.log_path.open("ab")
        # -F: stay in the foreground so we own the process; -j none: as root, do not switch
        # to the varnish users, who could not read a private pytest tmp dir.
        self.proc = subprocess.Popen(
            [
                self.binary,
                "-F",
                "-n", str(self.workdir / "n"),
                "-a", f"127.0.0.1:{self.port}",
                "-a", f"127.0.0.1:{self.proxy_port},PROXY",
                "-T", "127.0.0.1:0",
                "-f", str(self.vcl),
                "-s", "malloc,32m",
                "-j", "none",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"varnishd not listening after {START_TIMEOUT} s")

    def stop(self) -> None:
        """Stop varnishd (SIGTERM, then SIGKILL after 10 s); idempotent."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


VarnishFactory = Callable[[int], Varnish]


@pytest.fixture
def varnish_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VarnishFactory]:
    """``varnish_factory(backend_port)`` → a started ``Varnish``; all stopped at teardown."""
    binary = find_varnishd()
    if binary is None:
        skip_or_fail("varnishd not installed (apt-get install varnish)")
        raise AssertionError("unreachable")
    started: list[Varnish] = []

    def start(backend_port: int) -> Varnish:
        v = Varnish(binary, tmp_path_factory.mktemp("varnish"), backend_port)
        started.append(v)
        v.start()
        return v

    yield start
    for v in started:
        v.stop()
