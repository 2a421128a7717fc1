"""Grafana's built-in interval and range variables, replaced as its Prometheus backend replaces
them, after the dashboard's variables (``variables.interpolate``).

``$__interval`` is the step (``"2m"``), ``$__interval_ms`` / ``$__interval_s`` the step in ms
and s; ``$__rate_interval`` is the rate interval (Go's duration text, ``"2m15s"``) of the
panel's ``$__interval`` and the target's min step (else the datasource's scrape interval),
with ``_ms`` and ``_s`` forms; ``$__range`` is the range in whole seconds (rounded half away
from zero) followed by ``s``, ``$__range_s`` / ``$__range_ms`` the bare numbers. Each also
as ``${...}``.
"""

from __future__ import annotations

import re

from .interval import (
    IntervalError,
    format_go_duration,
    format_interval,
    parse_interval_ms,
    rate_interval_ms,
)

__all__ = ["interpolate_builtins"]

_BUILTIN = re.compile(
    r"\$(?:\{__(?P<braced>rate_interval_ms|rate_interval_s|rate_interval|interval_ms|interval_s"
    r"|interval|range_ms|range_s|range)\}|__(?P<bare>rate_interval_ms|rate_interval_s"
    r"|rate_interval|interval_ms|interval_s|interval|range_ms|range_s|range))"
)
_RATE_STEPS = frozenset({"$__rate_interval", "${__rate_interval}"})
_INTERVAL_STEPS = frozenset({"$__interval", "${__interval}"})


def interpolate_builtins(
    expr: str,
    *,
    step_ms: int,
    query_interval_ms: int,
    min_step: str,
    scrape_interval_ms: int,
    range_ms: int,
) -> str:
    """``expr`` with Grafana's built-in interval and range variables replaced, as the
    Prometheus backend replaces them: ``$__interval`` is the step, ``$__rate_interval`` the
    rate interval of the panel's ``$__interval`` and the target's min step (or of the
    datasource's scrape interval), ``$__range`` whole seconds rounded half away from zero."""
    range_s = _round_half_away(range_ms / 1000)
    rate_ms = _rate_for(step_ms, query_interval_ms, min_step, scrape_interval_ms)
    values = {
        "interval_ms": str(step_ms),
        "interval_s": str(step_ms // 1000),
        "interval": format_interval(step_ms),
        "range_ms": str(range_ms),
        "range_s": str(range_s),
        "range": f"{range_s}s",
        "rate_interval_ms": str(rate_ms),
        "rate_interval_s": str(rate_ms // 1000),
        "rate_interval": format_go_duration(rate_ms),
    }
    return _BUILTIN.sub(lambda m: values[m.group("braced") or m.group("bare")], expr)


def _rate_for(step_ms: int, query_interval_ms: int, min_step: str, scrape_ms: int) -> int:
    if min_step in _RATE_STEPS:
        return step_ms
    scrape_text = format_go_duration(step_ms) if min_step in _INTERVAL_STEPS else min_step
    if not scrape_text:
        return rate_interval_ms(query_interval_ms, scrape_ms)
    try:
        scrape = parse_interval_ms(scrape_text)
    except IntervalError:
        # Grafana's backend answers 0 for a min step it cannot read.
        return 0
    return rate_interval_ms(query_interval_ms, scrape)


def _round_half_away(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)
