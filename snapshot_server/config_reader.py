"""Typed reading of one TOML table for the config loader: every getter names the dotted key
in its ``ConfigError``, and ``done()`` rejects keys nobody asked for (typos). Also how a
configured URL is shown in logs and messages (``redact_url``)."""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, cast
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
        number = self._number(name, default, int, "an integer", lo, hi)
        assert isinstance(number, int)  # _number checked it
        return number

    def get_float(
        self, name: str, default: float, *, lo: float | None = None, hi: float | None = None
    ) -> float:
        return float(self._number(name, default, int | float, "a number", lo, hi))

    def _number(
        self,
        name: str,
        default: int | float,
        kind: type | types.UnionType,
        what: str,
        lo: float | None,
        hi: float | None,
    ) -> int | float:
        """A number of ``kind`` (``what`` names it in errors) within ``lo``..``hi``."""
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{self.key(name)}: must be {what}")
        number = cast(int | float, value)
        if lo is not None and number < lo:
            raise ConfigError(f"{self.key(name)}: must be at least {lo}")
        if hi is not None and number > hi:
            raise ConfigError(f"{self.key(name)}: must be at most {hi}")
        return number

    def done(self) -> None:
        """Raise for the first key nobody asked for: almost always a typo."""
        for name in self.data:
            if name not in self.seen:
                raise ConfigError(f"{self.key(name)}: unknown key")


@dataclass(frozen=True, slots=True)
class PathSettings:
    """The settings of a backend that keeps everything in one place on disk: ``path`` alone.
    Each such backend subclasses it to give ``path`` its own default and meaning."""

    path: str

    @classmethod
    def read(cls, section: Section) -> Self:
        settings = cls(path=section.get_str("path", cls().path, required=True))  # type: ignore[call-arg]
        section.done()
        return settings

    def where(self) -> str:
        return f"at {os.path.abspath(self.path)}"


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
