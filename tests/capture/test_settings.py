"""``[capture]`` settings: defaults, the datasource mapping, and errors that name the key."""

from __future__ import annotations

import tomllib

import pytest

from snapshot_server.capture.settings import CaptureSettings, DatasourceSettings, duration_ms
from snapshot_server.config import parse_config
from snapshot_server.errors import ConfigError


def capture(toml: str) -> CaptureSettings:
    return parse_config(tomllib.loads(toml)).capture


def test_defaults_are_off_and_bounded() -> None:
    settings = capture("")
    assert settings == CaptureSettings()
    assert (settings.enabled, settings.auto, settings.datasources) == (False, False, ())
    assert (settings.max_queries, settings.max_points, settings.max_response_bytes) == (0, 0, 0)
    assert settings.timeout == 30.0
    assert settings.max_concurrent_queries == 4


def test_datasources_are_read_with_every_key() -> None:
    settings = capture(
        """
        [capture]
        enabled = true
        auto = true
        max_queries = 50
        max_range = 86400
        [[capture.datasources]]
        name = "prom"
        url = "http://127.0.0.1:9090/"
        uids = ["P1", "prometheus"]
        scrape_interval = "30s"
        bearer_token_file = "/run/token"
        headers = { "X-Scope-OrgID" = "tenant" }
        [[capture.datasources]]
        name = "mimir"
        url = "https://127.0.0.1:8443/prometheus"
        default = true
        basic_auth_user = "u"
        basic_auth_password_file = "/run/pw"
        """
    )
    prom, mimir = settings.datasources
    assert prom == DatasourceSettings(
        name="prom",
        url="http://127.0.0.1:9090",  # the trailing slash dropped: paths are appended
        uids=("P1", "prometheus"),
        scrape_interval="30s",
        bearer_token_file="/run/token",
        headers=(("X-Scope-OrgID", "tenant"),),
    )
    assert prom.scrape_interval_ms == 30_000
    assert (mimir.basic_auth_user, mimir.basic_auth_password_file) == ("u", "/run/pw")
    assert settings.default_datasource is mimir
    assert settings.datasource("prom") is prom
    assert settings.datasource("nope") is None
    assert (settings.auto, settings.max_queries, settings.max_range) == (True, 50, 86400)


def test_the_only_datasource_is_the_default() -> None:
    one = capture('[[capture.datasources]]\nname = "a"\nurl = "http://127.0.0.1:1"')
    assert one.default_datasource is one.datasources[0]
    two = capture(
        '[[capture.datasources]]\nname = "a"\nurl = "http://127.0.0.1:1"\n'
        '[[capture.datasources]]\nname = "b"\nurl = "http://127.0.0.1:2"'
    )
    assert two.default_datasource is None


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15s", 15_000), ("500ms", 500), ("1m", 60_000), ("2h", 7_200_000), ("1d", 86_400_000)],
)
def test_durations(text: str, ms: int) -> None:
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "15", "s", "1.5s", "-1s", "15 sec"])
def test_bad_durations(text: str) -> None:
    assert duration_ms(text) is None


DS = '[[capture.datasources]]\nname = "a"\nurl = "http://127.0.0.1:9090"\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[capture]\nenabeld = true", "capture.enabeld: unknown key"),
        ("[capture]\nenabled = true", "capture.datasources: enabled = true needs at least one"),
        ("[capture]\nmax_points = -1", "capture.max_points: must be at least 0"),
        ("[capture]\ntimeout = 0", "capture.timeout: must be at least 0.1"),
        ("[capture]\nmax_concurrent_queries = 0", "capture.max_concurrent_queries: must be at"),
        ("[[capture.datasources]]\nurl = 'http://x'", "capture.datasources[0].name: must be a"),
        ("[[capture.datasources]]\nname = 'a'", "capture.datasources[0].url: must be a non-empty"),
        (
            "[[capture.datasources]]\nname = 'a'\nurl = 'ftp://x'",
            "capture.datasources[0].url: must be an absolute http(s) URL",
        ),
        (
            "[[capture.datasources]]\nname = 'a'\nurl = 'http://u:p@x'",
            "capture.datasources[0].url: must have no query, fragment or credentials",
        ),
        (DS + "scrape_interval = '15'", "capture.datasources[0].scrape_interval: must be a dur"),
        (DS + "scrape_interval = '0s'", "capture.datasources[0].scrape_interval: must be a dur"),
        (DS + "basic_auth_user = 'u'", "capture.datasources[0]: basic_auth_user and basic_auth"),
        (
            DS + "bearer_token_file = 't'\nbasic_auth_user = 'u'\nbasic_auth_password_file = 'p'",
            "capture.datasources[0]: give bearer_token_file or basic auth, not both",
        ),
        (DS + "headers = { Host = 'x' }", "capture.datasources[0].headers.Host: not a header"),
        (DS + "headers = { 'a b' = 'x' }", "capture.datasources[0].headers.a b: not a header"),
        (DS + "headers = { X = 1 }", "capture.datasources[0].headers.X: must be a string"),
        (
            DS + "bearer_token_file = 't'\nheaders = { authorization = 'x' }",
            "capture.datasources[0].headers.authorization: Authorization is set by the auth",
        ),
        (DS + "uids = 'a'", "capture.datasources[0].uids: must be a list"),
        (DS + "colour = 'a'", "capture.datasources[0].colour: unknown key"),
        (DS + DS, "capture.datasources[1].name: 'a' is configured twice"),
        (
            DS + "uids = ['x']\n" + DS.replace('"a"', '"b"') + "uids = ['x']",
            "capture.datasources[1].uids: 'x' is mapped by two datasources",
        ),
        (
            DS + "default = true\n" + DS.replace('"a"', '"b"') + "default = true",
            "capture.datasources[1].default: only one datasource may be the default",
        ),
    ],
)
def test_errors_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        capture(toml)
    assert str(error.value).startswith(message)
