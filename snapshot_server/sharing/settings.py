"""``[sharing]``: password-protected snapshots' settings (``config.example.toml`` documents each
key). Nothing here imports ``snapshot_server.config``: the config loader imports this module."""

from __future__ import annotations

from dataclasses import dataclass

import limits

from ..config_reader import Section
from ..errors import ConfigError

DAY = 86400


@dataclass(frozen=True, slots=True)
class SharingSettings:
    """``cookie_secret_file``: a file holding the secret that signs access cookies ("" = one
    generated on first start and kept beside the data, see ``secret``). ``cookie_max_age``:
    seconds a right password is remembered by the browser. ``password_attempts``: wrong
    passwords allowed per snapshot and client address (a ``limits`` rate), always enforced.
    ``max_grace_seconds``: the longest an old key may keep working after a rotation."""

    cookie_secret_file: str = ""
    cookie_max_age: int = DAY
    password_attempts: str = "5/minute;30/hour"  # noqa: S105 (a rate)
    max_grace_seconds: int = 7 * DAY

    @classmethod
    def read(cls, s: Section) -> SharingSettings:
        """``[sharing]``. Raises ``ConfigError`` naming the first bad key."""
        d = cls()
        attempts = s.get_str("password_attempts", d.password_attempts, required=True)
        try:
            limits.parse_many(attempts)
        except ValueError:
            raise ConfigError(
                f"{s.key('password_attempts')}: {attempts!r} is not a rate such as"
                ' "5/minute" or "5/minute;30/hour"'
            ) from None
        settings = cls(
            cookie_secret_file=s.get_str("cookie_secret_file", d.cookie_secret_file),
            cookie_max_age=s.get_int("cookie_max_age", d.cookie_max_age, lo=60, hi=365 * DAY),
            password_attempts=attempts,
            max_grace_seconds=s.get_int(
                "max_grace_seconds", d.max_grace_seconds, lo=0, hi=30 * DAY
            ),
        )
        s.done()
        return settings
