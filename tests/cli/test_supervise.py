"""``workers.supervise`` and ``listening.listen`` in this process, with real spawned workers: the
paths the end-to-end tests cannot reach quickly (a worker that ignores SIGTERM is killed after
the stop timeout) or at all (errors a root user or a loopback-only test never meets)."""

from __future__ import annotations

import errno
import os
import re
import signal
import socket

import pytest

from snapshot_server.listening import ListenError, _explain, listen
from snapshot_server.workers import WorkerLink, supervise


def stubborn(link: WorkerLink, sockets: list[socket.socket]) -> None:
    """A worker that ignores SIGTERM: only SIGKILL ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    link.ready()
    while True:
        signal.pause()


def broken(link: WorkerLink, sockets: list[socket.socket]) -> None:
    link.fail("broken on purpose", 5)


def obedient(link: WorkerLink, sockets: list[socket.socket]) -> None:
    """Serves (accepts nothing) until SIGTERM, then exits 0."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    link.ready()
    while True:
        signal.pause()


def test_a_worker_that_ignores_sigterm_is_killed_after_the_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    announced: list[bool] = []

    def on_ready() -> None:
        announced.append(True)
        os.kill(os.getpid(), signal.SIGTERM)  # what systemd or `kill` would send the server

    code = supervise(stubborn, listen("127.0.0.1", 0), (), 1, on_ready=on_ready, stop_timeout=0.5)
    assert (code, announced) == (1, [True])
    assert re.fullmatch(
        r"error: worker 1 of 1 \(pid \d+\) did not stop within 0\.5 s of SIGTERM: killed\n",
        capsys.readouterr().err,
    )


def test_a_signal_stops_obedient_workers_with_exit_code_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def on_ready() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C

    assert supervise(obedient, listen("127.0.0.1", 0), (), 2, on_ready=on_ready) == 0
    assert capsys.readouterr().err == ""
    # Its own handlers are gone: the defaults of this process are back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_reported_failure_is_printed_once_with_its_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def on_ready() -> None:
        raise AssertionError("a failed server must not be announced")

    assert supervise(broken, listen("127.0.0.1", 0), (), 3, on_ready=on_ready) == 5
    assert capsys.readouterr().err == "error: broken on purpose\n"


def test_listen_binds_every_address_and_refuses_a_served_port() -> None:
    sockets = listen("127.0.0.1", 0)
    try:
        ((host, port),) = [s.getsockname() for s in sockets]
        with pytest.raises(ListenError, match="address already in use"):
            listen("127.0.0.1", port)
        # Whatever listens there too, with SO_REUSEPORT or not, cannot join it.
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with pytest.raises(OSError, match="Address already in use") as raised:
                other.bind((host, port))
            assert raised.value.errno == errno.EADDRINUSE
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (errno.EACCES, "permission denied (ports below 1024 need privileges; choose another"),
        (errno.EADDRNOTAVAIL, "no such address on this machine (check --host or [server] host)"),
        (errno.ENOBUFS, os.strerror(errno.ENOBUFS)),
    ],
)
def test_bind_errors_are_explained(number: int, reason: str) -> None:
    # Root may bind low ports and tests use loopback only: these errors are met elsewhere.
    assert _explain(OSError(number, os.strerror(number))).startswith(reason)
