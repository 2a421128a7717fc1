"""Real Redis servers for the tests: one plain server and one 3-node Redis Cluster per session
(per xdist worker), started from the ``redis-server`` binary on free loopback ports.

``REDIS_URL`` / ``REDIS_CLUSTER_URL`` point the suites at existing servers instead. Without the
binary, the plain server falls back to testcontainers' ``RedisContainer`` when Docker works;
otherwise the tests are skipped locally and fail in CI (``skip_or_fail``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import skip_or_fail

START_TIMEOUT = 10.0  # seconds a server or cluster gets to become ready


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, cluster_bus: bool = False) -> int:
    """A free loopback port; with ``cluster_bus``, one whose ``port + 10000`` is free too."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if not cluster_bus or (port + 10000 <= 65535 and _port_free(port + 10000)):
            return port
    raise RuntimeError("no free loopback port (with a free cluster-bus port) found")


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``, working in ``directory``, with no
    persistence. ``start`` returns once it answers PING; ``stop`` kills it."""

    def __init__(self, directory: Path, port: int, *extra: str) -> None:
        self.directory = directory
        self.port = port
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers. Raises ``RuntimeError`` if it exits or
        stays silent for ``START_TIMEOUT`` seconds (its log is in the message)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        argv = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(log),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        text = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"redis-server on port {self.port} did not start:\n{text}")

    def stop(self) -> None:
        """Kill the server (SIGKILL: no shutdown work to wait for) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused process must be able to die
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections stay open but nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def start_server(directory: Path, *extra: str, cluster_bus: bool = False) -> RedisServer:
    """A started server on a free port; retries when another process takes the port first."""
    for attempt in range(5):
        server = RedisServer(
            directory / f"try{attempt}", free_port(cluster_bus=cluster_bus), *extra
        )
        try:
            server.start()
        except RuntimeError:
            if attempt == 4:
                raise
            continue
        return server
    raise AssertionError("unreachable")


def start_cluster(directory: Path, *extra: str, size: int = 3) -> list[RedisServer]:
    """``size`` cluster-enabled servers (each started with ``extra`` arguments too) joined into
    one cluster with every slot covered. A node restarted with ``start()`` rejoins it."""
    nodes: list[RedisServer] = []
    args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000", *extra)  # fmt: skip
    try:
        for i in range(size):
            nodes.append(start_server(directory / f"node{i}", *args, cluster_bus=True))
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        wait_cluster_ok(nodes)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def wait_cluster_ok(nodes: list[RedisServer], within: float = START_TIMEOUT) -> None:
    """Return once every node reports ``cluster_state:ok``; ``RuntimeError`` after ``within`` s."""
    deadline = time.monotonic() + within
    pending = list(nodes)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"cluster not ok on ports {[n.port for n in pending]}")
        info = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(pending[0].port), "cluster", "info"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
        if "cluster_state:ok" in info.stdout:
            pending.pop(0)
        else:
            time.sleep(0.05)


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a plain Redis server for this session (this xdist worker)."""
    if url := os.environ.get("REDIS_URL"):
        yield url
    elif shutil.which("redis-server"):
        server = start_server(tmp_path_factory.mktemp("redis"))
        try:
            yield server.url
        finally:
            server.stop()
    elif _docker_works():
        from testcontainers.redis import RedisContainer

        with RedisContainer() as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
    else:
        skip_or_fail("no redis-server binary, no REDIS_URL and no working Docker")


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of one node of a 3-node Redis Cluster for this session (this xdist worker)."""
    if url := os.environ.get("REDIS_CLUSTER_URL"):
        yield url
    elif shutil.which("redis-server") and shutil.which("redis-cli"):
        nodes = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
        try:
            yield f"redis://127.0.0.1:{nodes[0].port}"
        finally:
            for node in nodes:
                node.stop()
    else:
        skip_or_fail("no redis-server/redis-cli binaries and no REDIS_CLUSTER_URL")
