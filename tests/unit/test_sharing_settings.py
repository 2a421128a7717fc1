"""``[sharing]``: defaults, and a bad value names its key."""

from __future__ import annotations

import re

import pytest

from snapshot_server.config import parse_config
from snapshot_server.errors import ConfigError
from snapshot_server.sharing.settings import SharingSettings


def test_defaults() -> None:
    assert parse_config({}).sharing == SharingSettings()
    assert SharingSettings().cookie_max_age == 86400


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"password_attempts": "often"}, "sharing.password_attempts: 'often' is not a rate"),
        ({"password_attempts": ""}, "sharing.password_attempts"),
        ({"cookie_max_age": 59}, "sharing.cookie_max_age: must be at least 60"),
        ({"cookie_max_age": "1d"}, "sharing.cookie_max_age: must be an integer"),
        ({"max_grace_seconds": -1}, "sharing.max_grace_seconds: must be at least 0"),
        ({"cookie_secret_file": 5}, "sharing.cookie_secret_file"),
        ({"cookie_secret": "x"}, "sharing.cookie_secret: unknown key"),
    ],
)
def test_a_bad_value_names_its_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"sharing": table})


def test_values_are_read() -> None:
    sharing = parse_config(
        {
            "sharing": {
                "cookie_secret_file": "/etc/snapshot-server/cookie-secret",
                "cookie_max_age": 3600,
                "password_attempts": "3/minute",
                "max_grace_seconds": 300,
            }
        }
    ).sharing
    assert sharing == SharingSettings("/etc/snapshot-server/cookie-secret", 3600, "3/minute", 300)
