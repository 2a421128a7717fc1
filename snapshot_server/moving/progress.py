"""How far a long command has got: a tqdm bar when its stream is a terminal, a plain line every
``every`` snapshots otherwise (a log file or a pipe gets no control characters)."""

from __future__ import annotations

from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Counts snapshots done for ``what`` (``"migrate"``, say) on ``stream``; ``note`` prints a
    line without breaking the bar. ``close`` ends the bar (or prints the last count)."""

    def __init__(self, what: str, stream: TextIO, *, every: int = 1000) -> None:
        self._what = what
        self._stream = stream
        self._every = every
        self._done = 0
        self._printed = 0
        self._bar: tqdm[Any] | None = None
        if stream.isatty():
            self._bar = tqdm(desc=what, unit=" snapshots", file=stream)

    def advance(self, count: int) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._done - self._printed >= self._every:
            self._line()

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=self._stream)
        else:
            print(message, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._done != self._printed:
            self._line()

    def _line(self) -> None:
        self._printed = self._done
        print(f"{self._what}: {self._done} snapshots", file=self._stream, flush=True)
