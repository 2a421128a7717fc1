"""Configuration: TOML (stdlib ``tomllib``) read once into frozen dataclasses, validated at load.

Every key is here with its default, except each backend's ``[storage.NAME]`` settings, which
that backend owns and reads (see ``StorageConfig``); ``config.example.toml`` documents each one.
A bad value raises ``ConfigError`` whose message starts with the dotted key, e.g.
``server.port: must be at most 65535``. Unknown keys are errors too, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .abuse.settings import LimitsSettings
from .capture.settings import CaptureSettings
from .config_reader import Section
from .errors import ConfigError
from .external.settings import problems as external_problems
from .logs import LOG_FORMATS
from .models import HUNDRED_YEARS, hash_secret
from .purge import PurgerSettings, read_purger
from .sharing.settings import SharingSettings
from .urls import public_root

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

ROLES = ("Viewer", "Editor", "Admin")
SCOPES = (
    "snapshots:read",
    "snapshots:create",
    "snapshots:delete",
    "snapshots:write",  # rotate a key, PATCH name / expiry / password
    "snapshots:capture",  # run a dashboard's Prometheus queries on create
)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    root_url: str = ""  # "" = http://{host}:{port}/
    max_body_bytes: int = 64 * 1024 * 1024
    workers: int = 1
    response_cache_bytes: int = 32 * 1024 * 1024
    log_format: str = "text"  # one of logs.LOG_FORMATS

    @property
    def public_root(self) -> str:
        """``root_url`` normalised to end with ``/``, derived from host and port when unset."""
        if self.root_url:
            return public_root(self.root_url)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """``[storage]``: the ``backend`` to use, and every ``[storage.NAME]`` table as written.

    The tables stay raw because each backend owns its settings: ``snapshot_server`` never
    imports ``backends``, so it cannot know them. A backend reads its table with its own
    ``Settings.read`` when it opens; ``backends.check_storage`` reads every table present (and
    checks the backend name) at load, so a bad setting is named before the server starts.
    """

    backend: str = "sqlite"
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def using(cls, backend: str, settings: DataclassInstance) -> StorageConfig:
        """``backend`` configured with ``settings`` (its ``Settings`` dataclass), as if written
        in its table: how code and tests configure a backend without TOML."""
        return cls(backend, {backend: asdict(settings)})

    def section(self, name: str | None = None) -> Section:
        """The ``[storage.NAME]`` table (``NAME`` = the chosen backend unless given) for a
        ``Settings.read``; an absent table reads as empty, so every setting has its default."""
        name = self.backend if name is None else name
        return Section(self.tables.get(name, {}), f"storage.{name}")


@dataclass(frozen=True, slots=True)
class SnapshotsConfig:
    enabled: bool = True
    public_mode: bool = False
    view_requires_auth: bool = False
    max_expires: int = 0  # 0 = no limit beyond 100 years
    cleanup_interval: float = 60.0
    cache_max_age: int = 3600
    scrub: bool = False
    external_enabled: bool = False
    external_snapshot_url: str = ""
    external_snapshot_name: str = "Publish to snapshot server"
    external_snapshot_token: str = ""
    external_timeout: float = 5.0
    grafana_external_compat: bool = False


@dataclass(frozen=True, slots=True)
class TokenConfig:
    name: str
    token_sha256: str
    org_id: int
    user_id: int
    role: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class AuthConfig:
    tokens: tuple[TokenConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class CdnConfig:
    """``[[cdn.purgers]]``: each entry is its kind's own settings (``snapshot_server.purge``)."""

    purgers: tuple[PurgerSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    cdn: CdnConfig = field(default_factory=CdnConfig)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    sharing: SharingSettings = field(default_factory=SharingSettings)
    capture: CaptureSettings = field(default_factory=CaptureSettings)


def load_config(path: str | Path) -> Config:
    """Read and validate the TOML file at ``path``. Raises ``ConfigError``."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data)


def parse_config(data: Mapping[str, Any]) -> Config:
    """Validate an already-parsed TOML document. Raises ``ConfigError`` naming the first bad key."""
    root = Section(data, "")
    server = _parse_server(root.section("server"))
    storage = _parse_storage(root.section("storage"))
    snapshots = _parse_snapshots(root.section("snapshots"))
    auth = _parse_auth(root.section("auth"))
    cdn = _parse_cdn(root.section("cdn"))
    limits = LimitsSettings.read(root.section("limits"), public_mode=snapshots.public_mode)
    sharing = SharingSettings.read(root.section("sharing"))
    capture = CaptureSettings.read(root.section("capture"))
    root.done()
    return Config(
        server=server,
        storage=storage,
        snapshots=snapshots,
        auth=auth,
        cdn=cdn,
        limits=limits,
        sharing=sharing,
        capture=capture,
    )


def _parse_auth(s: Section) -> AuthConfig:
    auth = AuthConfig(tokens=tuple(_parse_token(t) for t in s.tables("tokens")))
    _check_unique_tokens(auth.tokens)
    s.done()
    return auth


def _parse_server(s: Section) -> ServerConfig:
    d = ServerConfig()
    root_url = s.get_str("root_url", d.root_url)
    if root_url:
        parts = urlsplit(root_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{s.key('root_url')}: must be an absolute http(s) URL")
    cfg = ServerConfig(
        host=s.get_str("host", d.host, required=True),
        port=s.get_int("port", d.port, lo=0, hi=65535),
        root_url=root_url,
        max_body_bytes=s.get_int("max_body_bytes", d.max_body_bytes, lo=1024),
        workers=s.get_int("workers", d.workers, lo=1, hi=256),
        response_cache_bytes=s.get_int("response_cache_bytes", d.response_cache_bytes, lo=0),
        log_format=s.get_str("log_format", d.log_format),
    )
    if cfg.log_format not in LOG_FORMATS:
        raise ConfigError(f"{s.key('log_format')}: must be one of {', '.join(LOG_FORMATS)}")
    s.done()
    return cfg


def _parse_storage(s: Section) -> StorageConfig:
    """The backend name and the raw ``[storage.NAME]`` tables; ``backends.check_storage``
    validates both."""
    backend = s.get_str("backend", StorageConfig().backend)
    tables = {name: s.section(name).data for name in s.data if name != "backend"}
    s.done()
    return StorageConfig(backend=backend, tables=tables)


def _parse_snapshots(s: Section) -> SnapshotsConfig:
    d = SnapshotsConfig()
    public_mode = s.get_bool("public_mode", d.public_mode)
    cfg = SnapshotsConfig(
        enabled=s.get_bool("enabled", d.enabled),
        public_mode=public_mode,
        view_requires_auth=s.get_bool("view_requires_auth", d.view_requires_auth),
        max_expires=s.get_int("max_expires", d.max_expires, lo=0, hi=HUNDRED_YEARS),
        cleanup_interval=s.get_float("cleanup_interval", d.cleanup_interval, lo=0.01),
        cache_max_age=s.get_int("cache_max_age", d.cache_max_age, lo=0),
        scrub=s.get_bool("scrub", d.scrub),
        external_enabled=s.get_bool("external_enabled", d.external_enabled),
        external_snapshot_url=s.get_str("external_snapshot_url", d.external_snapshot_url),
        external_snapshot_name=s.get_str("external_snapshot_name", d.external_snapshot_name),
        external_snapshot_token=s.get_str("external_snapshot_token", d.external_snapshot_token),
        external_timeout=s.get_float("external_timeout", d.external_timeout, lo=0.1, hi=300),
        # Grafana's external-server quirk is on by default exactly when we act as one.
        grafana_external_compat=s.get_bool("grafana_external_compat", public_mode),
    )
    for name, problem in external_problems(
        cfg.external_enabled, cfg.external_snapshot_url, cfg.external_snapshot_token
    ):
        raise ConfigError(f"{s.key(name)}: {problem}")
    s.done()
    return cfg


def _parse_token(s: Section) -> TokenConfig:
    name = s.get_str("name", "", required=True)
    plain = s.get_str("token", "")
    hashed = s.get_str("token_sha256", "").lower()
    if bool(plain) == bool(hashed):
        raise ConfigError(f"{s.path}: give exactly one of token or token_sha256")
    if hashed and not _SHA256_HEX.fullmatch(hashed):
        raise ConfigError(f"{s.key('token_sha256')}: must be 64 hex digits")
    role = s.get_str("role", "Viewer")
    if role not in ROLES:
        raise ConfigError(f"{s.key('role')}: must be one of {', '.join(ROLES)}")
    scopes = s.get_str_list("scopes", None)
    if scopes is not None:
        for scope in scopes:
            if scope not in SCOPES:
                raise ConfigError(f"{s.key('scopes')}: unknown scope {scope!r}")
    cfg = TokenConfig(
        name=name,
        token_sha256=hashed or hash_secret(plain),
        org_id=s.get_int("org_id", 1, lo=1),
        user_id=s.get_int("user_id", 1, lo=0),
        role=role,
        scopes=frozenset(scopes) if scopes is not None else role_scopes(role),
    )
    s.done()
    return cfg


def token_config(
    name: str, token: str, *, role: str, org_id: int = 1, user_id: int = 1
) -> TokenConfig:
    """A token entry for a plain ``token`` (stored as its SHA-256) with ``role``'s scopes."""
    return TokenConfig(
        name=name,
        token_sha256=hash_secret(token),
        org_id=org_id,
        user_id=user_id,
        role=role,
        scopes=role_scopes(role),
    )


def role_scopes(role: str) -> frozenset[str]:
    """The Grafana RBAC scopes a role grants: Viewer reads; Editor and Admin also create, delete,
    write (rotate, update) and capture (an Admin's reach over the whole org is decided by the
    service)."""
    if role == "Viewer":
        return frozenset({"snapshots:read"})
    return frozenset(SCOPES)


def _check_unique_tokens(tokens: tuple[TokenConfig, ...]) -> None:
    seen: set[str] = set()
    for i, t in enumerate(tokens):
        if t.token_sha256 in seen:
            raise ConfigError(f"auth.tokens[{i}]: the same token is configured twice")
        seen.add(t.token_sha256)


def _parse_cdn(s: Section) -> CdnConfig:
    cfg = CdnConfig(purgers=tuple(read_purger(p) for p in s.tables("purgers")))
    s.done()
    return cfg
