"""``[[cdn.purgers]]`` parsing and ``build_dispatcher``."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from snapshot_server.config import parse_config
from snapshot_server.errors import ConfigError
from snapshot_server.purge import build_dispatcher
from snapshot_server.purge.cloudflare import CloudflarePurger
from snapshot_server.purge.fastly import FastlyPurger
from snapshot_server.purge.http import HttpPurger
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
    d = build_dispatcher(config.cdn, root_url="https://snap.example.com")
    assert d is not None
    kinds = [type(p) for p in d.purgers]
    assert kinds == [HttpPurger, CloudflarePurger, FastlyPurger, WebhookPurger]
    assert [p.name for p in d.purgers] == ["http[0]", "cloudflare[1]", "fastly[2]", "webhook[3]"]
    cf, fastly = d.purgers[1], d.purgers[2]
    assert isinstance(cf, CloudflarePurger)
    assert isinstance(fastly, FastlyPurger)
    assert cf.api_base == "https://api.cloudflare.com/client/v4"
    assert fastly.api_base == "http://127.0.0.1:9999"
    assert d.purgers[0].max_attempts == 3
    assert d.purgers[1].max_attempts == 5
    await d.aclose()


def test_no_purgers_no_dispatcher() -> None:
    assert build_dispatcher(cfg("").cdn, root_url="http://x/") is None


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
