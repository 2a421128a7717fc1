"""Every purger kind by its ``kind`` name: the one list that config entries are read with
(``read_purger``), that the factory builds purgers from and that ``PURGER_KINDS`` is derived
from. Adding a kind is one module (its settings and purger) and one name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ..config_reader import Section
from ..errors import ConfigError
from .cloudflare import CloudflarePurger
from .fastly import FastlyPurger
from .http import HttpPurger
from .settings import ConfiguredPurger, PurgerSettings
from .webhook import WebhookPurger

PURGERS: Mapping[str, type[ConfiguredPurger[Any]]] = {
    purger.Settings.kind: purger
    for purger in (HttpPurger, CloudflarePurger, FastlyPurger, WebhookPurger)
}
PURGER_KINDS = tuple(PURGERS)


def setting_names(settings: type[PurgerSettings]) -> frozenset[str]:
    """The TOML keys of one kind besides ``kind``: its dataclass fields."""
    return frozenset(f.name for f in fields(settings))


_ANY_KIND = frozenset().union(*(setting_names(p.Settings) for p in PURGERS.values()))


def read_purger(s: Section) -> PurgerSettings:
    """One ``[[cdn.purgers]]`` table as its kind's settings. Raises ``ConfigError`` naming the
    key: an unknown kind, a key of another kind (``zone_id`` on an http purger is a mistake,
    not a no-op), a bad or missing value, an unknown key."""
    kind = s.get_str("kind", "", required=True)
    purger = PURGERS.get(kind)
    if purger is None:
        raise ConfigError(f"{s.key('kind')}: must be one of {', '.join(PURGER_KINDS)}")
    settings = purger.Settings
    own = setting_names(settings)
    for name in s.data:
        if name in _ANY_KIND and name not in own:
            raise ConfigError(f"{s.key(name)}: not used by kind = {kind!r}")
    cfg = settings.read(s)
    s.done()
    return cfg
