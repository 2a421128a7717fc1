"""``[[cdn.purgers]]`` parsing and ``build_dispatcher``."""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import orjson
import pytest

from snapshot_server.config import parse_config
from snapshot_server.errors import ConfigError
from snapshot_server.purge import PURGER_KINDS, PURGERS, build_dispatcher
from snapshot_server.purge.cloudflare import CloudflarePurger
from snapshot_server.purge.fastly import FastlyPurger
from snapshot_server.purge.http import HttpPurger
from snapshot_server.purge.registry import setting_names
from snapshot_server.purge.webhook import WebhookPurger

FULL = """
[[cdn.purgers]]
kind = "http"
nodes = ["http://127.0.0.1:6081", "http://10.0.0.2:8080/purge"]
method = "purge"
timeout = 2.5
max_attempts = 3

[[cdn.purgers]]
kind = "cloudflare"
zone_id = "z1"
api_token = "t1"

[[cdn.purgers]]
kind = "fastly"
service_id = "s1"
api_token = "t2"
api_base = "http://127.0.0.1:9999"

[[cdn.purgers]]
kind = "webhook"
url = "https://hooks.example.com/snap"
secret = "shh"
"""


def cfg(text: str) -> Any:
    return parse_config(tomllib.loads(text))


async def test_full_config_builds_every_kind() -> None:
    config = cfg(FULL)
    http = config.cdn.purgers[0]
    assert (http.method, http.timeout, http.max_attempts) == ("PURGE", 2.5, 3)
    d = build_dispatcher(config.cdn.purgers, root_url="https://snap.example.com")
    assert d is not None
    kinds = [type(p) for p in d.purgers]
    assert kinds == [HttpPurger, CloudflarePurger, FastlyPurger, WebhookPurger]
    assert [p.name for p in d.purgers] == ["http[0]", "cloudflare[1]", "fastly[2]", "webhook[3]"]
    cf, fastly = d.purgers[1], d.purgers[2]
    assert isinstance(cf, CloudflarePurger)
    assert isinstance(fastly, FastlyPurger)
    assert cf.settings.api_base == "https://api.cloudflare.com/client/v4"
    assert fastly.settings.api_base == "http://127.0.0.1:9999"
    assert d.purgers[0].max_attempts == 3
    assert d.purgers[1].max_attempts == 5
    await d.aclose()


def test_no_purgers_no_dispatcher() -> None:
    assert build_dispatcher(cfg("").cdn.purgers, root_url="http://x/") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "akamai"', "cdn.purgers[0].kind: must be one of"),
        ('kind = "http"', "cdn.purgers[0].nodes: required for kind = 'http'"),
        ('kind = "http"\nnodes = ["127.0.0.1:6081"]', "cdn.purgers[0].nodes: '127.0.0.1:6081'"),
        ('kind = "http"\nnodes = ["http://a"]\nmethod = "PUR GE"', "cdn.purgers[0].method:"),
        ('kind = "http"\nnodes = ["http://a"]\nzone_id = "z"', "zone_id: not used by kind"),
        ('kind = "cloudflare"\nzone_id = "z"', "cdn.purgers[0].api_token: required"),
        ('kind = "cloudflare"\nzone_id = "z"\napi_token = "t"\napi_base = "x"', "api_base:"),
        ('kind = "fastly"\napi_token = "t"', "cdn.purgers[0].service_id: required"),
        ('kind = "webhook"\nurl = "https://h/x"', "cdn.purgers[0].secret: required"),
        ('kind = "webhook"\nurl = "ftp://h/x"\nsecret = "s"', "cdn.purgers[0].url:"),
        ('kind = "webhook"\nurl = "https://h"\nsecret = "s"\nmethod = "GET"', "method: not used"),
        ('kind = "webhook"\nurl = "https://h"\nsecret = "s"\nmax_attempts = 0', "max_attempts"),
        ('kind = "webhook"\nurl = "https://h"\nsecret = "s"\nsecrets = "s"', "secrets: unknown"),
    ],
)
def test_bad_purger_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        cfg(f"[[cdn.purgers]]\n{text}\n")
    assert message in str(info.value)


EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

# The least each kind needs; a kind missing here fails the tests below, on purpose.
MINIMAL: dict[str, dict[str, Any]] = {
    "http": {"nodes": ("http://127.0.0.1:6081",)},
    "cloudflare": {"zone_id": "z1", "api_token": "t1"},
    "fastly": {"service_id": "s1", "api_token": "t2"},
    "webhook": {"url": "https://hooks.example.com/snap", "secret": "shh"},
}


def example_purgers() -> list[dict[str, Any]]:
    """The ``[[cdn.purgers]]`` tables of config.example.toml with its example lines enabled."""
    text = EXAMPLE.read_text().replace("\n#: ", "\n")
    tables: list[dict[str, Any]] = tomllib.loads(text)["cdn"]["purgers"]
    return tables


@pytest.mark.parametrize("kind", PURGER_KINDS)
def test_example_documents_every_key_of_the_kind_with_its_default(kind: str) -> None:
    [table] = [t for t in example_purgers() if t["kind"] == kind]
    settings = PURGERS[kind].Settings
    assert set(table) == {"kind", *(f.name for f in fields(settings))}
    (parsed,) = cfg(f"[[cdn.purgers]]\n{toml_lines(table)}").cdn.purgers
    assert type(parsed) is settings
    for f in fields(settings):
        if f.default is not MISSING:
            assert getattr(parsed, f.name) == f.default, f"{kind}.{f.name}: not the default"


def toml_lines(table: dict[str, Any]) -> str:
    """``table`` as TOML lines (strings, numbers and lists of strings are all it holds)."""
    return "".join(f"{k} = {orjson.dumps(v).decode()}\n" for k, v in table.items())


@pytest.mark.parametrize("kind", PURGER_KINDS)
def test_reader_defaults_are_the_dataclass_defaults(kind: str) -> None:
    (parsed,) = cfg(f'[[cdn.purgers]]\nkind = "{kind}"\n{toml_lines(MINIMAL[kind])}').cdn.purgers
    assert parsed == PURGERS[kind].Settings(**MINIMAL[kind])


@pytest.mark.parametrize(
    ("kind", "other"),
    [
        (kind, name)
        for kind in PURGER_KINDS
        for other_kind in PURGER_KINDS
        for name in sorted(
            setting_names(PURGERS[other_kind].Settings) - setting_names(PURGERS[kind].Settings)
        )
    ],
)
def test_a_key_of_another_kind_is_an_error(kind: str, other: str) -> None:
    table = toml_lines({**MINIMAL[kind], other: "x"})
    with pytest.raises(ConfigError) as info:
        cfg(f'[[cdn.purgers]]\nkind = "{kind}"\n{table}')
    assert str(info.value) == f"cdn.purgers[0].{other}: not used by kind = {kind!r}"


def test_unknown_key_in_cdn_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^cdn\.purger: unknown key$"):
        cfg("[cdn]\npurger = []\n")
