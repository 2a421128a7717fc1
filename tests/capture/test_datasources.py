"""Which configured datasource a dashboard's datasource reference maps to."""

from __future__ import annotations

from typing import Any

import pytest

from snapshot_server.capture.datasources import DatasourceResolver
from snapshot_server.capture.model import DatasourceTarget
from snapshot_server.capture.settings import CaptureSettings, DatasourceSettings

PROM = DatasourceSettings(name="prom", url="http://127.0.0.1:1", uids=("P1",), default=True)
MIMIR = DatasourceSettings(
    name="mimir", url="http://127.0.0.1:2", uids=("M1", "Mimir"), scrape_interval="1m"
)
RESOLVER = DatasourceResolver(CaptureSettings(datasources=(PROM, MIMIR)))


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        (None, "prom"),  # no datasource: the default
        ("", "prom"),
        ({"type": "prometheus", "uid": "M1"}, "mimir"),
        ({"uid": "P1"}, "prom"),
        ("Mimir", "mimir"),  # a legacy name reference, listed in uids
        ("mimir", "mimir"),  # a configured name
        ("${DS_PROMETHEUS}", "prom"),  # an exported dashboard's input nothing resolved
        ({"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, "prom"),
        ({"type": "prometheus"}, "prom"),
        ({"type": "prometheus", "uid": "unknown"}, None),  # someone else's Prometheus
        ({"type": "loki", "uid": "L1"}, None),
        ({"type": "loki"}, None),
        ("unknown", None),
        (3, None),
    ],
)
def test_references(ref: Any, name: str | None) -> None:
    target = RESOLVER.resolve(ref)
    assert (target.name if target else None) == name


def test_targets_carry_the_scrape_interval() -> None:
    assert RESOLVER.resolve("M1") == DatasourceTarget("mimir", 60_000)


def test_without_a_default_nothing_defaults() -> None:
    resolver = DatasourceResolver(
        CaptureSettings(datasources=(MIMIR, PROM.__class__(name="b", url="http://127.0.0.1:3")))
    )
    assert resolver.resolve(None) is None
    assert resolver.resolve("${DS_X}") is None
