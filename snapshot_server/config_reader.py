"""Typed reading of one TOML table for the config loader: every getter names the dotted key
in its ``ConfigError``, and ``done()`` rejects keys nobody asked for (typos). Also how a
configured URL is shown in logs and messages (``redact_url``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError


class Section:
    """A TOML table being read: typed getters that name the dotted key on error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: must be a table")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def section(self, name: str) -> Section:
        value = self._get(name)
        return Section({} if value is None else value, self.key(name))

    def tables(self, name: str) -> list[Section]:
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{self.key(name)}: must be an array of tables")
        return [Section(v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def get_str(self, name: str, default: str, *, required: bool = False) -> str:
        value = self._get(name)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)}: must be a string")
        if required and not value:
            raise ConfigError(f"{self.key(name)}: must be a non-empty string")
        return value

    def get_str_list(self, name: str, default: list[str] | None) -> list[str] | None:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.key(name)}: must be a list of non-empty strings")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: must be true or false")
        return value

    def get_int(
        self, name: str, default: int, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: must be an integer")
        _check_range(self.key(name), value, lo, hi)
        return value

    def get_float(
        self, name: str, default: float, *, lo: float | None = None, hi: float | None = None
    ) -> float:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.key(name)}: must be a number")
        _check_range(self.key(name), value, lo, hi)
        return float(value)

    def done(self) -> None:
        """Raise for the first key nobody asked for: almost always a typo."""
        for name in self.data:
            if name not in self.seen:
                raise ConfigError(f"{self.key(name)}: unknown key")


def _check_range(key: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise ConfigError(f"{key}: must be at least {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: must be at most {hi}")


def redact_url(url: str) -> str:
    """``url`` safe to log or show: a password replaced by ``***``, the query string and
    fragment dropped (configured URLs carry secrets in both: a Redis password, a webhook
    token)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{parts.username or ''}:***@{host}{port}"
    return f"{parts.scheme}://{netloc}{parts.path}"
