"""Series colours: Grafana's classic palette, and dashboard colours only when provably harmless.

A colour from the dashboard ends up in an SVG attribute; only ``#hex``, ``rgb()`` and Grafana's
named colours are accepted, so nothing like ``url(http://...)`` can make the browser fetch anything.
"""

from __future__ import annotations

import re

from .data import JSON, as_dict, as_list, as_str, to_number

PALETTE = (
    "#73BF69",
    "#F2CC0C",
    "#8AB8FF",
    "#FF780A",
    "#F2495C",
    "#5794F2",
    "#B877D9",
    "#705DA0",
    "#37872D",
    "#FADE2A",
    "#447EBC",
    "#C15C17",
    "#890F02",
    "#0A437C",
)

_NAMED = {
    "green": "#73BF69",
    "red": "#F2495C",
    "yellow": "#FADE2A",
    "orange": "#FF9830",
    "blue": "#5794F2",
    "purple": "#B877D9",
    "text": "#CCCCDC",
    "transparent": "#00000000",
    "white": "#FFFFFF",
    "black": "#000000",
    "gray": "#808080",
    "grey": "#808080",
}
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_RGB = re.compile(r"rgba?\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*(?:,\s*[01]?(?:\.\d+)?\s*)?\)")


def safe_color(value: JSON) -> str | None:
    """A CSS colour for ``value`` if it is hex, rgb(a) or a Grafana colour name, else ``None``."""
    text = as_str(value).strip()
    if _HEX.fullmatch(text) or _RGB.fullmatch(text):
        return text
    name = text.lower()
    for prefix in ("super-light-", "light-", "semi-dark-", "dark-"):
        name = name.removeprefix(prefix)
    return _NAMED.get(name)


def series_color(config: dict[str, JSON], index: int) -> str:
    """The field's fixed colour (``color.mode == "fixed"``), else palette colour ``index``."""
    color = as_dict(config.get("color"))
    if as_str(color.get("mode")) in ("fixed", "shades"):
        fixed = safe_color(color.get("fixedColor"))
        if fixed:
            return fixed
    return PALETTE[index % len(PALETTE)]


def threshold_color(config: dict[str, JSON], value: float | None) -> str | None:
    """The colour of the highest threshold step at or below ``value`` (absolute thresholds only)."""
    thresholds = as_dict(config.get("thresholds"))
    if value is None or as_str(thresholds.get("mode")) == "percentage":
        return None
    chosen: str | None = None
    for step in as_list(thresholds.get("steps")):
        step_dict = as_dict(step)
        limit = to_number(step_dict.get("value"))
        if limit is None or value >= limit:
            chosen = safe_color(step_dict.get("color")) or chosen
    return chosen
