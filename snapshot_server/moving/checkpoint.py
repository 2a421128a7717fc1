"""Where an interrupted ``migrate --checkpoint FILE`` resumes: the last source id up to which
every snapshot was placed in the target (copied, skipped, expired or failed), and which two
stores that was between, so a checkpoint is never applied to another pair.

Written atomically (temp file, fsync, rename) after each batch: a run killed at any instant
leaves the previous checkpoint or the new one, never a torn file. Snapshots of the batch that
was in flight are found already there by the re-run and skipped, so nothing is copied twice.
"""

from __future__ import annotations

import os
import tempfile

import orjson

from ..errors import ConfigError


class Checkpoint:
    def __init__(self, path: str, source: str, target: str) -> None:
        self.path = path
        self._pair = {"from": source, "to": target}

    def load(self) -> int:
        """The source id to resume after (0 if there is no checkpoint yet). Raises
        ``ConfigError`` if the file is unreadable, not a checkpoint, or another pair's."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise ConfigError(f"--checkpoint {self.path}: {exc.strerror}") from exc
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = None
        after = value.get("after_id") if isinstance(value, dict) else None
        if not isinstance(value, dict) or not isinstance(after, int) or after < 0:
            raise ConfigError(f"--checkpoint {self.path}: not a migrate checkpoint")
        if {k: value.get(k) for k in self._pair} != self._pair:
            raise ConfigError(
                f"--checkpoint {self.path}: written by a migrate from {value.get('from')} to "
                f"{value.get('to')}, not this one (give another file, or remove it)"
            )
        return after

    def save(self, after_id: int) -> None:
        """Record that every source snapshot up to ``after_id`` is placed. Raises ``OSError``."""
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, temp = tempfile.mkstemp(prefix=".checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps({**self._pair, "after_id": after_id}) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
