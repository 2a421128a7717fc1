"""Realistic create bodies of a chosen size, grown from the real Grafana 10.4 create body in
``tests/fixtures/grafana`` (see the README there): its ``timeseries`` panel is repeated, each copy
with its own id, position and a longer series of data frames, until the body has the size asked.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests/fixtures/grafana/grafana-10.4-timeseries-frames-create-body.json"
)
PANELS = 4  # panels per grown dashboard: a small real dashboard
START_MS = 1_706_030_536_378  # the fixture's first timestamp
STEP_MS = 4_320_000  # the fixture's step between points


@functools.cache
def _fixture_bytes() -> bytes:
    return FIXTURE.read_bytes()


def _fixture() -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(_fixture_bytes())
    return body


def _panel(template: dict[str, Any], number: int, points: int) -> dict[str, Any]:
    panel = copy.deepcopy(template)
    panel["id"] = number + 1
    panel["title"] = f"Series {number + 1}"
    panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (number % 2), "y": 8 * (number // 2)}
    time_field, value_field = panel["snapshotData"][0]["fields"]
    time_field["values"] = [START_MS + i * STEP_MS for i in range(points)]
    # Deterministic values with the spread of real measurements (a few significant digits).
    value_field["values"] = [round(50 + 40 * ((i * 7919 + number * 104729) % 1000) / 1000, 3)
                             for i in range(points)]  # fmt: skip
    return panel


def create_body(size: int, *, title: str = "bench", key: str | None = None) -> bytes:
    """A ``POST /api/snapshots`` body of about ``size`` bytes (within 2%, at least the
    fixture's own size): Grafana's own create body with ``PANELS`` panels whose series are long
    enough. ``key`` sets the client-chosen view key (and a deleteKey derived from it)."""
    body = _fixture()
    template = body["dashboard"]["panels"][0]

    def render(points: int) -> bytes:
        grown = dict(body)
        grown["dashboard"] = dict(body["dashboard"], title=title)
        grown["dashboard"]["panels"] = [_panel(template, n, points) for n in range(PANELS)]
        grown["name"] = title
        if key is not None:
            grown["key"], grown["deleteKey"] = key, f"delete-{key}"
        return orjson.dumps(grown)

    low, high = 1, 2
    while len(render(high)) < size:
        low, high = high, high * 2
    while high - low > 1:  # the smallest point count that reaches the size
        middle = (low + high) // 2
        low, high = (middle, high) if len(render(middle)) < size else (low, middle)
    return render(high)


def small_body(title: str, *, key: str | None = None, expires: int = 0) -> bytes:
    """The fixture body as Grafana sends it (about 3 KB), named ``title``: the many snapshots
    of the listing and cleanup scenarios."""
    body = _fixture()
    body["name"] = title
    body["dashboard"]["title"] = title
    body["expires"] = expires
    if key is not None:
        body["key"], body["deleteKey"] = key, f"delete-{key}"
    return orjson.dumps(body)
