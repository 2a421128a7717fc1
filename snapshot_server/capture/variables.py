"""Dashboard template variables in Prometheus queries, interpolated as Grafana's browser
interpolates them.

Dashboard variables (``$var``, ``${var}``, ``${var:format}``, ``[[var]]``, ``[[var:format]]``)
take their current values. Without a format, Prometheus's own rules apply: a single-value
variable has ``\\`` and ``'`` escaped; a multi-value or "Include All" one is regex-escaped and
several values become ``(a|b)``. "All" is the variable's ``allValue`` verbatim or else every
option. An interval variable set to "auto" takes the interval its step count and minimum give
over the range. ``$__from`` / ``$__to`` are the range's ends (``:date``, ``:date:iso``,
``:date:seconds``). Names Grafana does not know are left as written, and so are the built-ins
the Prometheus backend replaces afterwards (``builtins.interpolate_builtins``).

:func:`dashboard_variables` reads the current values from ``templating.list`` and applies a
create's overrides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .interval import IntervalError, calculate_interval_ms, parse_interval_ms
from .timeparse import iso_ms

__all__ = [
    "ALL_VALUE",
    "Variable",
    "VariableError",
    "dashboard_variables",
    "interpolate",
    "seconds_to_hms",
]

ALL_VALUE = "$__all"
# Every option of a refresh-on-load variable is fetched by the browser and not saved; "All" of
# such a variable without an allValue then selects every series, as its options would.
_EVERYTHING = ".*"
_KNOWN_TYPES = frozenset({"constant", "custom", "textbox", "interval", "query", "datasource"})
# Replaced by the Prometheus backend after the browser's pass (builtins.py).
BACKEND_BUILTINS = frozenset(
    f"__{name}{suffix}"
    for name in ("interval", "rate_interval", "range")
    for suffix in ("", "_ms", "_s")
)
_AUTO_VALUES = ("$__auto", "$__auto_interval")
_REFERENCE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
_REGEX_META = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_PROM_REGEX_META = re.compile(r"[$^*{}\[\]+?.()|]")
# A custom All value is interpolated in turn, so one may name another (or itself): the nesting
# and the text one interpolation may produce are bounded, else a few bytes of dashboard expand
# without end (a RecursionError, or gigabytes of query).
MAX_ALL_VALUE_DEPTH = 8
MAX_INTERPOLATED_CHARS = 1 << 20
MAX_REFERENCES = 100_000  # also bounds the work when the values are empty


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
    dashboard: Mapping[str, Any],
    overrides: Mapping[str, str | list[str]],
    time_range: tuple[int, int] | None = None,
) -> dict[str, Variable]:
    """The variables of ``dashboard.templating.list`` by name, with ``overrides`` applied.

    An override replaces a variable's current value (``"$__all"`` selects All); an override of
    a name the dashboard does not define adds a plain variable; one of a name starting with
    ``__`` (Grafana's global variables) is a ``VariableError``. Ad hoc filters and unknown types
    are left out (a query naming them keeps the reference as written). With ``time_range``
    (``from_ms``, ``to_ms``), ``__from`` and ``__to`` are defined and "auto" interval variables
    take their value (also as ``__auto_interval_<name>``, as Grafana defines it).
    """
    found: dict[str, Variable] = {}
    if time_range is not None:
        found["__from"] = _plain("__from", (str(time_range[0]),))
        found["__to"] = _plain("__to", (str(time_range[1]),))
    templating = dashboard.get("templating")
    entries = templating.get("list") if isinstance(templating, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        kind = entry.get("type", "query")
        if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
            continue
        variable = _from_entry(entry)
        if time_range is not None and _is_auto_interval(entry, variable):
            auto = _plain(variable.name, (_auto_interval(entry, time_range),))
            variable = auto
            found[f"__auto_interval_{variable.name}"] = _plain("", auto.values)
            found["__auto_interval"] = _plain("", auto.values)
        found[variable.name] = variable
    for name, value in overrides.items():
        values = _override_values(name, value)
        base = found.get(name)
        if base is None:
            found[name] = _plain(name, values)
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


def _plain(name: str, values: tuple[str, ...]) -> Variable:
    return Variable(name, values, values, len(values) > 1, False, False, None, ())


def _is_auto_interval(entry: Mapping[str, Any], variable: Variable) -> bool:
    if entry.get("type") != "interval" or not entry.get("auto"):
        return False
    value = variable.values[0] if variable.values else ""
    return value in _AUTO_VALUES or value == f"$__auto_interval_{variable.name}"


def _auto_interval(entry: Mapping[str, Any], time_range: tuple[int, int]) -> str:
    """Grafana's auto interval: the range over ``auto_count`` steps (30), rounded, at least
    ``auto_min`` (10s), written as ``secondsToHms`` writes it."""
    count = entry.get("auto_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 30
    minimum = entry.get("auto_min")
    minimum = minimum if isinstance(minimum, str) and minimum else "10s"
    try:
        low = parse_interval_ms(minimum)
    except IntervalError as error:
        raise VariableError(f"variable {entry['name']!r}: auto_min: {error}") from None
    return seconds_to_hms(calculate_interval_ms(time_range[1] - time_range[0], count, low) / 1000)


def seconds_to_hms(seconds: float) -> str:
    """Grafana's ``secondsToHms``: the largest whole unit only (``"1h"``, ``"90ms"``)."""
    for unit, size in (("y", 31_536_000), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        whole = int(seconds // size)
        if whole:
            return f"{whole}{unit}"
        seconds %= size
    milliseconds = int(seconds * 1000)
    return f"{milliseconds}ms" if milliseconds else "less than a millisecond"


def _override_values(name: str, value: object) -> tuple[str, ...]:
    if name.startswith("__"):
        # Grafana reserves these names for its global variables: ``__from`` / ``__to`` are
        # the range (an override of 10**30 ms would be no date), the others built in too.
        raise VariableError(f"variable {name!r}: names starting with __ are Grafana's own")
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
    listed = entry.get("options")
    options = tuple(
        str(option["value"])
        for option in (listed if isinstance(listed, list) else ())
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


def interpolate(
    text: str, variables: Mapping[str, Variable], default_format: str | None = None
) -> str:
    """``text`` with every dashboard variable replaced (the browser's pass).

    A reference without a format takes ``default_format``; ``None`` is Prometheus's escaping,
    which Grafana applies to expressions only (legends and intervals are ``"glob"``).
    """

    return _interpolate(text, variables, default_format, _Budget(), 0)


class _Budget:
    """The characters one ``interpolate`` call may still produce, and the references it may
    still replace, over every nesting level."""

    def __init__(self) -> None:
        self.chars = MAX_INTERPOLATED_CHARS
        self.references = MAX_REFERENCES

    def spend(self, text: str, name: str) -> str:
        self.chars -= len(text)
        self.references -= 1
        if self.references < 0:
            raise VariableError(
                f"variable {name!r}: more than {MAX_REFERENCES} variable references to expand"
            )
        if self.chars < 0:
            raise VariableError(
                f"variable {name!r}: the text it expands to is over {MAX_INTERPOLATED_CHARS}"
                " characters"
            )
        return text


def _interpolate(
    text: str,
    variables: Mapping[str, Variable],
    default_format: str | None,
    budget: _Budget,
    depth: int,
) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        values: tuple[str, ...]
        variable = variables.get(name)
        if variable is None or name in BACKEND_BUILTINS:
            return match.group(0)
        if variable.is_all:
            if variable.all_value is not None and fmt not in ("text", "percentencode"):
                if depth >= MAX_ALL_VALUE_DEPTH:
                    raise VariableError(
                        f"variable {name!r}: its All value names variables nested more than"
                        f" {MAX_ALL_VALUE_DEPTH} deep (or itself)"
                    )
                # Grafana leaves a custom all value unescaped, but interpolates it in turn.
                nested = _interpolate(
                    variable.all_value, variables, default_format, budget, depth + 1
                )
                return budget.spend(nested, name)
            if not variable.options:
                return _EVERYTHING
            values = variable.options
        else:
            values = variable.values
        return budget.spend(_format(values, variable, fmt or default_format), name)

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
    if fmt.startswith("date") and variable.name in ("__from", "__to"):
        return _date(values[0], fmt, variable)
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


def _date(value: str, fmt: str, variable: Variable) -> str:
    try:  # the range's end, unless a dashboard's own variable took the name
        epoch_ms = int(value)
        iso = iso_ms(epoch_ms)
    except (ValueError, OverflowError, OSError):
        raise VariableError(f"variable {variable.name!r}: {value[:40]!r} is no time") from None
    if fmt in ("date", "date:iso"):
        return iso
    if fmt == "date:seconds":
        return str(epoch_ms // 1000)
    raise VariableError(f"variable {variable.name!r}: format {fmt!r} is not supported")
