"""Place panels on Grafana's 24-column grid, opening collapsed rows in place.

Grafana stores the panels of a collapsed row inside ``row.panels`` with the positions they would
have when the row is expanded; the panels after the row sit directly below it. Showing
everything at once means moving those later panels down by the height of the row's content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .data import JSON, as_dict, as_list, to_number

COLUMNS = 24
_DEFAULT_W, _DEFAULT_H = 12, 8


@dataclass(frozen=True, slots=True)
class Placed:
    """A panel (raw JSON, maybe not an object) at column ``x``, row ``y``, size ``w`` x ``h``."""

    panel: JSON
    x: int
    y: int
    w: int
    h: int


def _int(value: JSON, default: int, low: int, high: int) -> int:
    number = to_number(value)
    if number is None:
        return default
    return max(low, min(high, int(number)))


def grid_pos(panel: JSON, fallback_y: int) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` from ``panel.gridPos``, clamped to the grid; defaults for missing parts."""
    pos = as_dict(as_dict(panel).get("gridPos"))
    x = _int(pos.get("x"), 0, 0, COLUMNS - 1)
    w = _int(pos.get("w"), _DEFAULT_W, 1, COLUMNS - x)
    h = _int(pos.get("h"), _DEFAULT_H, 1, 200)
    y = _int(pos.get("y"), fallback_y, 0, 100_000)
    return x, y, w, h


def place_panels(panels: list[JSON]) -> list[Placed]:
    """Every panel, collapsed rows' content included, in reading order on the grid."""
    bottom = 0
    ordered = []
    for index, panel in enumerate(panels):
        x, y, w, h = grid_pos(panel, bottom)
        bottom = max(bottom, y + h)
        ordered.append((y, x, index, panel, w, h))
    ordered.sort(key=lambda item: (item[0], item[1], item[2]))
    placed: list[Placed] = []
    shift = 0
    for y, x, _, panel, w, h in ordered:
        raw = as_dict(panel)
        is_row = raw.get("type") == "row"
        # A row always spans the grid and is one unit high, whatever its gridPos claims.
        placed.append(
            Placed(panel, 0, y + shift, COLUMNS, 1) if is_row else Placed(panel, x, y + shift, w, h)
        )
        children = [c for c in as_list(raw.get("panels")) if c is not None] if is_row else []
        if children and raw.get("collapsed") is True:
            positions = [grid_pos(child, y + 1) for child in children]
            top = min(p[1] for p in positions)
            height = max(p[1] + p[3] for p in positions) - top
            for child, (cx, cy, cw, ch) in zip(children, positions, strict=True):
                if as_dict(child).get("type") == "row":
                    continue  # rows do not nest in Grafana; ignore a malformed inner row
                placed.append(Placed(child, cx, cy - top + y + 1 + shift, cw, ch))
            shift += height
    return placed


def _row_height(value: JSON) -> int:
    # Old rows store a CSS height ("250px"); Grafana's migration divides by cell + margin (30 + 8).
    pixels = to_number(value.removesuffix("px") if isinstance(value, str) else value)
    return max(1, math.ceil((pixels or 250.0) / 38))


def dashboard_panels(dashboard: dict[str, JSON]) -> list[JSON]:
    """``dashboard.panels``, or for pre-5.0 dashboards (``rows[].panels`` with ``span``) the same
    panels with gridPos, as Grafana's schema-16 migration places them."""
    panels = as_list(dashboard.get("panels"))
    rows = as_list(dashboard.get("rows"))
    if panels or not rows:
        return panels
    result: list[JSON] = []
    y = 0
    for raw_row in rows:
        row = as_dict(raw_row)
        height = _row_height(row.get("height"))
        if row.get("showTitle") is True or row.get("collapse") is True:
            result.append({"type": "row", "title": row.get("title"), "gridPos": {"y": y}})
            y += 1
        x = 0
        for raw_panel in as_list(row.get("panels")):
            panel = as_dict(raw_panel)
            span = to_number(panel.get("span"))
            w = max(1, min(COLUMNS, round((span if span is not None else 12.0) * 2)))
            if x + w > COLUMNS:
                x, y = 0, y + height
            result.append({**panel, "gridPos": {"x": x, "y": y, "w": w, "h": height}})
            x += w
        y += height
    return result
