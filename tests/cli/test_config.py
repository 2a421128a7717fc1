"""Config loading: the example file, defaults, and errors that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backends import REGISTRY, backend_class, check_storage
from snapshot_server.auth import TokenAuthenticator
from snapshot_server.cli import main
from snapshot_server.config import Config, StorageConfig, load_config, parse_config
from snapshot_server.config_reader import redact_url
from snapshot_server.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def load(path: Path) -> Config:
    """What the CLI does with a config file: load it, then check ``[storage]`` against the
    backends' own settings."""
    config = load_config(path)
    check_storage(config.storage)
    return config


def test_example_documents_exactly_the_defaults() -> None:
    example = load(EXAMPLE)
    assert dataclasses.replace(example, storage=StorageConfig()) == Config()
    assert example.storage.backend == StorageConfig().backend


@pytest.mark.parametrize("name", REGISTRY)
def test_example_documents_every_backend_setting_with_its_default(name: str) -> None:
    storage = load(EXAMPLE).storage
    settings = backend_class(name).Settings
    documented = set(storage.tables.get(name, {}))
    assert documented == {f.name for f in dataclasses.fields(settings)}
    assert settings.read(storage.section(name)) == settings()


def test_example_lines_are_valid_when_enabled(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("\n#: ", "\n")
    enabled = tmp_path / "enabled.toml"
    enabled.write_text(text)
    config = load(enabled)
    (token,) = config.auth.tokens
    assert (token.name, token.org_id, token.role) == ("grafana", 1, "Editor")
    assert [p.kind for p in config.cdn.purgers] == ["http", "cloudflare", "fastly", "webhook"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[storage.sqlite]\npath = ""', "storage.sqlite.path: must be a non-empty string"),
        ("[server]\nport = 70000", "server.port: must be at most 65535"),
        ('[server]\nport = "80"', "server.port: must be an integer"),
        ('[server]\nroot_url = "ftp://x"', "server.root_url: must be an absolute http(s) URL"),
        ('[storage]\nbackend = "mongo"', "storage.backend: must be one of"),
        ('[storage.redis]\nkey_prefix = "{x}"', "storage.redis.key_prefix: must not contain"),
        ('[storage.redis]\nurl = "http://x"', "storage.redis.url: must be a redis://"),
        # A table of a backend not in use is checked too: switching is a one-line edit.
        (
            '[storage]\nbackend = "memory"\n[storage.filesystem]\npath = 3',
            "storage.filesystem.path: must be a string",
        ),
        ('[storage.memory]\npath = "x"', "storage.memory.path: unknown key"),
        ('[storage.mongo]\nurl = "x"', "storage.mongo: unknown key"),
        ('[storage]\nsqlite = "x.db"', "storage.sqlite: must be a table"),
        ("[snapshots]\nenabeld = true", "snapshots.enabeld: unknown key"),
        (
            "[snapshots]\nexternal_enabled = true",
            "snapshots.external_snapshot_url: is required when external_enabled = true",
        ),
        (
            '[snapshots]\nexternal_snapshot_url = "javascript:alert(1)"',
            "snapshots.external_snapshot_url: must be an absolute http(s) URL",
        ),
        (
            '[snapshots]\nexternal_snapshot_url = "https://snap.example/?x=1"',
            "snapshots.external_snapshot_url: must not have a query or fragment",
        ),
        (
            '[snapshots]\nexternal_snapshot_token = "abc\\n"',
            "snapshots.external_snapshot_token: must not contain",
        ),
        ("[snapshots]\nexternal_timeout = 0", "snapshots.external_timeout: must be at least 0.1"),
        ("[snapshots]\nmax_expires = -1", "snapshots.max_expires: must be at least 0"),
        ('[[auth.tokens]]\nname = "a"', "auth.tokens[0]: give exactly one of token"),
        (
            '[[auth.tokens]]\nname = "a"\ntoken = "t"\nrole = "Root"',
            "auth.tokens[0].role: must be one of",
        ),
        (
            '[[auth.tokens]]\nname = "a"\ntoken_sha256 = "abc"',
            "auth.tokens[0].token_sha256: must be 64 hex digits",
        ),
        ('[auth]\ntoken = "x"', "auth.token: unknown key"),  # [[auth.tokens]] was meant
        ('[[cdn.purgers]]\nkind = "http"', "cdn.purgers[0].nodes: required"),
        ('[limits]\ncreates_per_token = "lots"', "limits.creates_per_token: 'lots' is not a rate"),
        ('[limits]\ntrusted_proxies = ["proxy"]', "limits.trusted_proxies: 'proxy' is not an IP"),
        ("[limits]\nheader_timeout = 0", "limits.header_timeout: must be at least 0.1"),
        ('[[cdn.purgers]]\nkind = "akamai"', "cdn.purgers[0].kind: must be one of"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nworkers = 0\n")
    assert main(["check-config", str(bad)]) == 1
    assert "server.workers: must be at least 1" in capsys.readouterr().err
    bad.write_text('[storage.redis]\nkey_prefix = "{x}"\n')  # read by the backend's settings
    assert main(["check-config", str(bad)]) == 1
    assert "storage.redis.key_prefix: must not contain" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ci", 'the "ci" token \\ \u00e9\t'])
def test_token_command_prints_a_loadable_entry(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--name", name, "--role", "Admin", "--org-id", "3"]) == 0
    out = capsys.readouterr().out
    token = out.split("token: ", 1)[1].split("\n", 1)[0]
    entry = out[out.index("[[auth.tokens]]") :]
    path = tmp_path / "tokens.toml"
    path.write_text(entry)
    (configured,) = load_config(path).auth.tokens
    assert (configured.name, configured.role, configured.org_id) == (name, "Admin", 3)
    identity = TokenAuthenticator((configured,)).identify(f"Bearer {token}")
    assert identity.org_id == 3


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://app:hunter2@[::1]:6380/1", "rediss://app:***@[::1]:6380/1"),
        ("https://hooks.example.com/hook?token=hunter2#x", "https://hooks.example.com/hook"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_redact_url_hides_passwords_and_query_strings(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_limits_are_on_by_default_exactly_in_public_mode() -> None:
    assert parse_config({}).limits.enabled is False
    assert parse_config({"snapshots": {"public_mode": True}}).limits.enabled is True
    public_opted_out = {"snapshots": {"public_mode": True}, "limits": {"enabled": False}}
    assert parse_config(public_opted_out).limits.enabled is False
    assert parse_config({"limits": {"enabled": True}}).limits.enabled is True
