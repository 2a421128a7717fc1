"""Worker processes: the parent binds (``listening``), the workers serve, the parent supervises
them.

``supervise`` starts N worker processes that all accept on those same sockets (the kernel hands
each connection to one of them), and then:

- calls ``on_ready`` once every worker has said it is serving (``WorkerLink.ready``);
- when a worker exits on its own, whatever its exit code, or reports a failure
  (``WorkerLink.fail``), stops the others (SIGTERM, then SIGKILL after ``stop_timeout``) and
  returns non-zero: the failed worker's own exit code when it said why, else 1;
- on SIGTERM or SIGINT stops the workers the same way and returns 0 when they all stopped
  cleanly; a second signal kills them at once.

Workers are started with ``spawn`` (a fresh interpreter, nothing inherited but the sockets) and,
on Linux, ask the kernel to send them SIGTERM when the parent dies, so a SIGKILLed parent does
not leave workers serving the port with nobody supervising them.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn

# How long stopping workers may take before they are killed: a worker gives requests in flight
# 4 s (and their cancellation at most as long again) and pending CDN purges 3 s before it exits.
STOP_TIMEOUT = 14.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class WorkerLink:
    """A worker's line to its supervisor."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def ready(self) -> None:
        """Serving: the supervisor announces the server once every worker said so."""
        self._connection.send(("ready", ""))

    def fail(self, message: str, exit_code: int) -> NoReturn:
        """Exit with ``exit_code``; the supervisor prints ``error: {message}`` (once, however
        many workers fail the same way) and exits with that code."""
        self._connection.send(("failed", message))
        sys.exit(exit_code)


WorkerTarget = Callable[..., None]  # called as target(link, sockets, *args) in a worker


def supervise(
    target: WorkerTarget,
    sockets: Sequence[socket.socket],
    args: tuple[Any, ...],
    count: int,
    *,
    on_ready: Callable[[], None],
    on_exit: Callable[[int], None] = lambda pid: None,
    stop_timeout: float = STOP_TIMEOUT,
) -> int:
    """Run ``target(link, sockets, *args)`` in ``count`` spawned processes until they stop (see
    the module docstring) and return the exit code for the whole server. ``target`` and ``args``
    must pickle (a module-level function). The listening ``sockets`` are handed to the workers
    and closed here once every worker holds its own copy: when the workers are gone, so is the
    port. ``on_exit(pid)`` is called as each worker is reaped. Handles SIGTERM and SIGINT in
    this process while it runs."""
    wakeup, wakeup_writer = socket.socketpair()
    wakeup.setblocking(False)
    wakeup_writer.setblocking(False)
    # Signals arrive as bytes on ``wakeup``, so the wait below sees them with the workers'
    # exits and messages, in one place, instead of in a handler that may run anywhere.
    previous_wakeup = signal.set_wakeup_fd(wakeup_writer.fileno(), warn_on_full_buffer=False)
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervisor = _Supervisor(wakeup, on_ready, on_exit, stop_timeout)
        context = multiprocessing.get_context("spawn")
        # Started by the first spawn otherwise, where it would unblock SIGINT (see below) in
        # this process while starting itself.
        resource_tracker.ensure_running()
        for number in range(1, count + 1):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main,
                args=(os.getpid(), writer, target, (list(sockets), *args)),
                name=f"snapshot-server worker {number}",
            )
            # Started with SIGINT blocked (the mask survives exec): a Ctrl+C while the worker
            # imports stays pending instead of raising KeyboardInterrupt there, and reaches
            # this process after the start, where it becomes a stop like any other.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                process.start()  # the worker has its copies of the descriptors on return
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            writer.close()
            supervisor.add(_Worker(number, count, process, reader))
        for sock in sockets:
            sock.close()
        return supervisor.run()
    finally:
        for sock in sockets:
            sock.close()  # if starting a worker failed (closing twice is harmless)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_wakeup)
        wakeup.close()
        wakeup_writer.close()


def _ignore(_signum: int, _frame: object) -> None:
    """The signal is read from the wakeup socket; this only replaces the default action."""


def _worker_main(
    parent_pid: int, connection: Connection, target: WorkerTarget, args: tuple[Any, ...]
) -> None:
    # Ctrl+C reaches the whole process group; the supervisor turns it into one SIGTERM per
    # worker. Ignored (a pending one dropped) until the target handles signals itself, a
    # SIGINT here would be a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _exit_with_parent(parent_pid)
    target(WorkerLink(connection), *args)


def _exit_with_parent(parent_pid: int) -> None:
    """On Linux, have the kernel SIGTERM this process when its parent dies (a worker serves a
    graceful shutdown on SIGTERM). Elsewhere a SIGKILLed parent still leaves its workers
    running."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        sys.exit(1)  # the parent died before the request took effect: nobody supervises us


@dataclass(eq=False)
class _Worker:
    number: int
    of: int
    process: BaseProcess
    connection: Connection | None  # None once the worker closed its end
    ready: bool = False
    failure: str = ""  # what the worker reported, if it failed
    killed: bool = False

    @property
    def name(self) -> str:
        return f"worker {self.number} of {self.of} (pid {self.process.pid})"


class _Supervisor:
    """The parent's loop; ``run`` returns the server's exit code: 0 after a requested stop in
    which every worker exited cleanly, else the first failure's code."""

    def __init__(
        self,
        wakeup: socket.socket,
        on_ready: Callable[[], None],
        on_exit: Callable[[int], None],
        stop_timeout: float,
    ) -> None:
        self._wakeup = wakeup
        self._on_ready = on_ready
        self._on_exit = on_exit
        self._stop_timeout = stop_timeout
        self._workers: list[_Worker] = []
        self._announced = False
        self._stopping = False
        self._deadline: float | None = None
        self._exit_code = 0

    def add(self, worker: _Worker) -> None:
        self._workers.append(worker)

    def run(self) -> int:
        try:
            while running := [w for w in self._workers if w.process.exitcode is None]:
                self._step(running)
        finally:
            for worker in self._workers:
                if worker.connection is not None:
                    worker.connection.close()
        return self._exit_code

    def _step(self, running: list[_Worker]) -> None:
        waitables: list[Any] = [self._wakeup]
        for worker in running:
            waitables.append(worker.process.sentinel)
            if worker.connection is not None:
                waitables.append(worker.connection)
        timeout = None
        if self._deadline is not None:
            timeout = max(0.0, self._deadline - time.monotonic())
        ready = multiprocessing.connection.wait(waitables, timeout)
        if self._wakeup in ready:
            self._on_signals()
        for worker in running:
            if worker.connection is not None and worker.connection in ready:
                self._read(worker)
            if worker.process.sentinel in ready:
                self._reap(worker)
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._kill(f"did not stop within {self._stop_timeout:g} s of SIGTERM: killed")
        if not self._announced and not self._stopping and all(w.ready for w in self._workers):
            self._announced = True
            self._on_ready()

    def _on_signals(self) -> None:
        try:
            received = self._wakeup.recv(64)
        except BlockingIOError:
            return
        for _signum in received:
            if not self._stopping:
                self._stop()
            else:
                self._kill("killed: a second signal asked to stop at once")

    def _read(self, worker: _Worker) -> None:
        connection = worker.connection
        assert connection is not None
        try:
            while connection.poll():
                kind, message = connection.recv()
                if kind == "ready":
                    worker.ready = True
                elif kind == "failed":
                    worker.failure = message
        except EOFError:
            connection.close()
            worker.connection = None

    def _reap(self, worker: _Worker) -> None:
        worker.process.join()
        if worker.connection is not None:
            self._read(worker)  # a failure it reported just before exiting
        code = worker.process.exitcode
        assert code is not None
        if worker.process.pid is not None:
            self._on_exit(worker.process.pid)
        if self._stopping:
            # After a first failure its line says why; after a signal, say what went wrong.
            # Dying of our SIGTERM is a clean stop too: a worker still starting up has not
            # installed its handler yet, and has nothing in flight.
            clean = code in (0, -signal.SIGTERM)
            if not clean and not worker.killed and self._exit_code == 0:
                self._fail(f"{worker.name} {_exit_status(code)} while stopping", 1)
            return
        if worker.failure:
            self._fail(worker.failure, code if code > 0 else 1)
        else:
            self._fail(f"{worker.name} {_exit_status(code)}; stopping the server", 1)
        self._stop()

    def _fail(self, message: str, exit_code: int) -> None:
        """Print why; the first failure decides the exit code."""
        print(f"error: {message}", file=sys.stderr, flush=True)
        if self._exit_code == 0:
            self._exit_code = exit_code

    def _stop(self) -> None:
        self._stopping = True
        self._deadline = time.monotonic() + self._stop_timeout
        for worker in self._workers:
            _send(worker.process, signal.SIGTERM)

    def _kill(self, reason: str) -> None:
        left = [w for w in self._workers if w.process.exitcode is None and not w.killed]
        for worker in left:
            worker.killed = True
            _send(worker.process, signal.SIGKILL)
        if left:
            self._fail(f"{', '.join(w.name for w in left)} {reason}", 1)
        self._deadline = None  # SIGKILL cannot be ignored: wait for the exits without a bound


def _send(process: BaseProcess, signum: signal.Signals) -> None:
    if process.exitcode is None and process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


def _exit_status(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    if code == 0:
        return "exited unexpectedly"
    return f"exited with code {code}"
