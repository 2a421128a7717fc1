"""What every ``[[cdn.purgers]]`` entry has in common, and the pieces each kind's reader uses.

Each kind is one module holding a frozen ``PurgerSettings`` subclass that reads itself from
its TOML table (``read``, naming a bad key exactly) and the ``ConfiguredPurger`` subclass that
is made from it (``HttpSettings`` and ``HttpPurger`` in ``http.py``, ...); ``registry.py``
lists the kinds. Nothing here imports ``snapshot_server.config``: the config loader imports us.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypedDict, TypeVar
from urllib.parse import urlsplit

from ..clock import Clock, system_clock
from ..config_reader import Section
from ..errors import ConfigError
from .base import Delivery, PurgeEvent

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgerSettings(ABC):
    """One ``[[cdn.purgers]]`` entry. The keys every kind takes are keyword-only, so a kind's
    own keys come first in its constructor: ``timeout`` bounds one request (seconds, in all),
    ``max_attempts`` is how often one delivery is tried (the first try included)."""

    kind: ClassVar[str]
    """The ``kind = "..."`` value that selects this class; also the purger's name in logs."""

    timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @classmethod
    @abstractmethod
    def read(cls, s: Section) -> Self:
        """Read this kind's keys (and ``read_common``) from ``s``. Raises ``ConfigError``
        naming the key. Leaves ``kind`` and unknown keys to the caller."""


class Common(TypedDict):
    """``PurgerSettings``' own keys, as keyword arguments for a kind's constructor."""

    timeout: float
    max_attempts: int


def read_common(s: Section) -> Common:
    """The keys every kind takes, range-checked."""
    return Common(
        timeout=s.get_float("timeout", DEFAULT_TIMEOUT, lo=0.1, hi=120),
        max_attempts=s.get_int("max_attempts", DEFAULT_MAX_ATTEMPTS, lo=1, hi=50),
    )


def required_str(s: Section, name: str, kind: str) -> str:
    """A string key the kind cannot work without (missing or empty is an error)."""
    value = s.get_str(name, "")
    if not value:
        raise missing(s, name, kind)
    return value


def missing(s: Section, name: str, kind: str) -> ConfigError:
    """The error for a key ``kind`` cannot work without."""
    return ConfigError(f"{s.key(name)}: required for kind = {kind!r}")


def optional_url(s: Section, name: str, default: str) -> str:
    """An absolute http(s) URL; missing or empty means ``default``."""
    value = s.get_str(name, "")
    if value:
        check_http_url(s.key(name), value)
    return value or default


def check_http_url(key: str, url: str) -> None:
    """Raise ``ConfigError`` for ``key`` unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key}: {url!r} is not an absolute http(s) URL")


S = TypeVar("S", bound=PurgerSettings)


@dataclass(frozen=True, slots=True)
class ConfiguredPurger(ABC, Generic[S]):
    """A ``Purger`` made from one kind's settings: ``name`` is what logs call it, ``clock``
    what stamps its requests (webhook signatures). Subclasses name their settings class
    (``Settings``) and add ``deliveries``."""

    Settings: ClassVar[type[PurgerSettings]]

    name: str
    settings: S
    clock: Clock = system_clock

    @property
    def max_attempts(self) -> int:
        return self.settings.max_attempts

    @abstractmethod
    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        """See ``Purger.deliveries``."""
