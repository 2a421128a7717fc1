"""``[capture]`` and its ``[[capture.datasources]]``: which Prometheus-API servers a create may
query, and the caps on what one snapshot's capture may cost (``config.example.toml`` documents
each key).

Nothing here imports ``snapshot_server.config``: the config loader imports this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config_reader import Section
from ..errors import ConfigError

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
    "y": 365 * 86_400_000,
}
# Headers the client sets itself: a configured one would fight with (or smuggle past) them.
_RESERVED_HEADERS = frozenset({"host", "content-type", "content-length", "transfer-encoding"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def duration_ms(text: str) -> int | None:
    """A Grafana interval such as ``"15s"``, ``"500ms"``, ``"1m"`` in milliseconds (``None``
    when ``text`` is not one)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match[1]) * _UNIT_MS[match[2]]


@dataclass(frozen=True, slots=True)
class DatasourceSettings:
    """One ``[[capture.datasources]]`` entry: a Prometheus-API server (Prometheus, Thanos,
    Mimir, VictoriaMetrics...) and how to authenticate to it.

    ``uids`` are the Grafana datasource uids or names (``${DS_...}`` inputs included) whose
    targets run here; ``default`` serves targets with no datasource or one no entry names.
    Secrets live in files (``*_file``), read on each capture so a rotated token is picked up.
    """

    name: str
    url: str
    uids: tuple[str, ...] = ()
    default: bool = False
    scrape_interval: str = "15s"
    bearer_token_file: str = ""
    basic_auth_user: str = ""
    basic_auth_password_file: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def scrape_interval_ms(self) -> int:
        ms = duration_ms(self.scrape_interval)
        assert ms is not None  # read() checked it
        return ms

    @classmethod
    def read(cls, s: Section) -> DatasourceSettings:
        name = s.get_str("name", "", required=True)
        url = s.get_str("url", "", required=True).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{s.key('url')}: must be an absolute http(s) URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError(
                f"{s.key('url')}: must have no query, fragment or credentials"
                " (use basic_auth_user and basic_auth_password_file)"
            )
        scrape_interval = s.get_str("scrape_interval", "15s", required=True)
        ms = duration_ms(scrape_interval)
        if ms is None or ms <= 0:
            raise ConfigError(
                f'{s.key("scrape_interval")}: must be a duration such as "15s", "1m" or "500ms"'
            )
        basic_user = s.get_str("basic_auth_user", "")
        basic_file = s.get_str("basic_auth_password_file", "")
        if bool(basic_user) != bool(basic_file):
            raise ConfigError(f"{s.path}: basic_auth_user and basic_auth_password_file go together")
        bearer_file = s.get_str("bearer_token_file", "")
        if bearer_file and basic_user:
            raise ConfigError(f"{s.path}: give bearer_token_file or basic auth, not both")
        settings = cls(
            name=name,
            url=url,
            uids=tuple(s.get_str_list("uids", []) or []),
            default=s.get_bool("default", False),
            scrape_interval=scrape_interval,
            bearer_token_file=bearer_file,
            basic_auth_user=basic_user,
            basic_auth_password_file=basic_file,
            headers=_headers(s.section("headers"), authenticated=bool(bearer_file or basic_user)),
        )
        s.done()
        return settings


def _headers(s: Section, *, authenticated: bool) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for name in s.data:
        value = s.get_str(name, "")
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise ConfigError(f"{s.key(name)}: not a header that may be configured")
        if authenticated and name.lower() == "authorization":
            raise ConfigError(f"{s.key(name)}: Authorization is set by the auth settings")
        if not value.isprintable():
            raise ConfigError(f"{s.key(name)}: must be printable text")
        headers.append((name, value))
    return tuple(headers)


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """``enabled`` allows a create's ``capture`` member; ``auto`` also captures, for tokens
    holding ``snapshots:capture``, the data-less Prometheus panels of creates without one.

    Caps are per snapshot; 0 means no cap. ``timeout`` bounds a whole capture (every query of
    one create) in seconds; ``max_concurrent_queries`` how many of one capture's queries run at
    once.
    """

    enabled: bool = False
    auto: bool = False
    max_queries: int = 0
    max_series: int = 0
    max_points: int = 0
    max_range: int = 0
    max_response_bytes: int = 0
    timeout: float = 30.0
    max_concurrent_queries: int = 4
    datasources: tuple[DatasourceSettings, ...] = ()

    @classmethod
    def read(cls, s: Section) -> CaptureSettings:
        """``[capture]``. Raises ``ConfigError`` naming the first bad key."""
        d = cls()
        datasources = tuple(DatasourceSettings.read(t) for t in s.tables("datasources"))
        settings = cls(
            enabled=s.get_bool("enabled", d.enabled),
            auto=s.get_bool("auto", d.auto),
            max_queries=s.get_int("max_queries", d.max_queries, lo=0),
            max_series=s.get_int("max_series", d.max_series, lo=0),
            max_points=s.get_int("max_points", d.max_points, lo=0),
            max_range=s.get_int("max_range", d.max_range, lo=0),
            max_response_bytes=s.get_int("max_response_bytes", d.max_response_bytes, lo=0),
            timeout=s.get_float("timeout", d.timeout, lo=0.1, hi=3600),
            max_concurrent_queries=s.get_int(
                "max_concurrent_queries", d.max_concurrent_queries, lo=1, hi=256
            ),
            datasources=datasources,
        )
        _check_datasources(s, datasources)
        if settings.enabled and not datasources:
            raise ConfigError(f"{s.key('datasources')}: enabled = true needs at least one")
        s.done()
        return settings

    def datasource(self, name: str) -> DatasourceSettings | None:
        return next((d for d in self.datasources if d.name == name), None)

    @property
    def default_datasource(self) -> DatasourceSettings | None:
        """The entry marked ``default``, else the only one, else ``None``."""
        marked = [d for d in self.datasources if d.default]
        if marked:
            return marked[0]
        return self.datasources[0] if len(self.datasources) == 1 else None


def _check_datasources(s: Section, datasources: tuple[DatasourceSettings, ...]) -> None:
    names: set[str] = set()
    uids: set[str] = set()
    defaults = 0
    for i, d in enumerate(datasources):
        where = f"{s.key('datasources')}[{i}]"
        if d.name in names:
            raise ConfigError(f"{where}.name: {d.name!r} is configured twice")
        names.add(d.name)
        for uid in d.uids:
            if uid in uids:
                raise ConfigError(f"{where}.uids: {uid!r} is mapped by two datasources")
            uids.add(uid)
        defaults += d.default
        if defaults > 1:
            raise ConfigError(f"{where}.default: only one datasource may be the default")
