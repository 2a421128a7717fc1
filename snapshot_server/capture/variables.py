"""Template variables in Prometheus queries, interpolated as Grafana interpolates them.

Two passes, as in Grafana:

- :func:`interpolate` (the browser's pass): dashboard variables (``$var``, ``${var}``,
  ``${var:format}``, ``[[var]]``, ``[[var:format]]``) take their current values. Without a
  format, Prometheus's own rules apply: a single-value variable has ``\\`` and ``'`` escaped; a
  multi-value or "Include All" one is regex-escaped and several values become ``(a|b)``. "All"
  is the variable's ``allValue`` verbatim or else every option. Names Grafana does not know are
  left as written, and so are the built-ins (``$__interval`` ...), which the second pass owns.
- :func:`interpolate_builtins` (the Prometheus backend's pass): ``$__interval``,
  ``$__interval_ms``, ``$__interval_s``, ``$__rate_interval`` (+ ``_ms``, ``_s``),
  ``$__range``, ``$__range_s``, ``$__range_ms`` and their ``${...}`` forms.

:func:`dashboard_variables` reads the current values from ``templating.list`` and applies a
create's overrides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .interval import (
    IntervalError,
    format_go_duration,
    format_interval,
    parse_interval_ms,
    rate_interval_ms,
)

__all__ = [
    "ALL_VALUE",
    "Variable",
    "VariableError",
    "dashboard_variables",
    "interpolate",
    "interpolate_builtins",
]

ALL_VALUE = "$__all"
# Every option of a refresh-on-load variable is fetched by the browser and not saved; "All" of
# such a variable without an allValue then selects every series, as its options would.
_EVERYTHING = ".*"
_KNOWN_TYPES = frozenset({"constant", "custom", "textbox", "interval", "query", "datasource"})
_REFERENCE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
_REGEX_META = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_PROM_REGEX_META = re.compile(r"[$^*{}\[\]+?.()|]")


class VariableError(ValueError):
    """A variable override or format that cannot be applied; the message names it."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A dashboard variable's current value as interpolation needs it.

    ``values`` are the selected values (one for a single value); ``is_all`` marks "All",
    resolved through ``all_value`` or ``options`` (every option value but All itself).
    """

    name: str
    values: tuple[str, ...]
    texts: tuple[str, ...]
    multi: bool
    include_all: bool
    is_all: bool
    all_value: str | None
    options: tuple[str, ...]


def dashboard_variables(
    dashboard: Mapping[str, Any], overrides: Mapping[str, str | list[str]]
) -> dict[str, Variable]:
    """The variables of ``dashboard.templating.list`` by name, with ``overrides`` applied.

    An override replaces a variable's current value (``"$__all"`` selects All); an override of
    a name the dashboard does not define adds a plain variable. Ad hoc filters and unknown types
    are left out (a query naming them keeps the reference as written).
    """
    found: dict[str, Variable] = {}
    templating = dashboard.get("templating")
    entries = templating.get("list") if isinstance(templating, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        if entry.get("type", "query") not in _KNOWN_TYPES:
            continue
        found[entry["name"]] = _from_entry(entry)
    for name, value in overrides.items():
        values = _override_values(name, value)
        base = found.get(name)
        if base is None:
            found[name] = Variable(name, values, values, len(values) > 1, False, False, None, ())
            continue
        found[name] = Variable(
            name,
            values,
            values,
            base.multi or len(values) > 1,
            base.include_all,
            values == (ALL_VALUE,),
            base.all_value,
            base.options,
        )
    return found


def _override_values(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise VariableError(
        f"variable {name!r}: an override is a string or a non-empty list of strings"
    )


def _from_entry(entry: Mapping[str, Any]) -> Variable:
    kind = entry.get("type", "query")
    current = entry.get("current")
    current = current if isinstance(current, Mapping) else {}
    values = _strings(current.get("value"))
    texts = _strings(current.get("text"))
    if not values and kind in ("constant", "textbox"):
        values = _strings(entry.get("query"))
    options = tuple(
        str(option["value"])
        for option in entry.get("options") or ()
        if isinstance(option, Mapping)
        and isinstance(option.get("value"), str | int | float)
        and option.get("value") != ALL_VALUE
    )
    if not options and kind == "custom" and isinstance(entry.get("query"), str):
        options = tuple(part.strip() for part in entry["query"].split(",") if part.strip())
    all_value = entry.get("allValue")
    return Variable(
        name=entry["name"],
        values=values,
        texts=texts or values,
        multi=bool(entry.get("multi")),
        include_all=bool(entry.get("includeAll")),
        is_all=ALL_VALUE in values,
        all_value=all_value if isinstance(all_value, str) and all_value else None,
        options=options,
    )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item) for item in value if item is not None)
    if value is None:
        return ()
    return (str(value),)


def interpolate(text: str, variables: Mapping[str, Variable]) -> str:
    """``text`` with every dashboard variable replaced (the browser's pass)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        values: tuple[str, ...]
        variable = variables.get(name)
        if variable is None or name.startswith("__"):
            return match.group(0)
        if variable.is_all:
            if variable.all_value is not None and fmt not in ("text", "percentencode"):
                # Grafana leaves a custom all value unescaped, but interpolates it in turn.
                return interpolate(variable.all_value, variables)
            if not variable.options:
                return _EVERYTHING
            values = variable.options
        else:
            values = variable.values
        return _format(values, variable, fmt)

    return _REFERENCE.sub(replace, text)


def _format(values: tuple[str, ...], variable: Variable, fmt: str | None) -> str:
    many = len(values) != 1
    if fmt is None:
        return _prometheus_format(values, variable)
    if fmt == "raw":
        return ",".join(values)
    if fmt == "regex":
        escaped = [_REGEX_META.sub(lambda m: "\\" + m.group(0), value) for value in values]
        return "(" + "|".join(escaped) + ")" if many else escaped[0]
    if fmt == "pipe":
        return "|".join(values)
    if fmt in ("csv", "distributed"):
        return ",".join(values)
    if fmt == "text":
        return " + ".join(variable.texts if not variable.is_all else ("All",))
    if fmt == "json":
        return json.dumps(list(values) if many or variable.multi else values[0])
    if fmt == "doublequote":
        return ",".join('"' + value.replace('"', '\\"') + '"' for value in values)
    if fmt == "singlequote":
        return ",".join("'" + value.replace("'", "\\'") + "'" for value in values)
    if fmt == "glob":
        return "{" + ",".join(values) + "}" if many else values[0]
    raise VariableError(f"variable {variable.name!r}: format {fmt!r} is not supported")


def _prometheus_format(values: tuple[str, ...], variable: Variable) -> str:
    if not variable.multi and not variable.include_all:
        return ",".join(value.replace("\\", "\\\\").replace("'", "\\\\'") for value in values)
    escaped = [
        _PROM_REGEX_META.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))
        for value in values
    ]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


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
