"""Template variables: current values, overrides, Grafana's formats for Prometheus, and the
built-in interval and range variables (cases after Grafana's ``TestParse``)."""

from __future__ import annotations

from typing import Any

import pytest

from snapshot_server.capture.builtins import interpolate_builtins
from snapshot_server.capture.variables import (
    VariableError,
    dashboard_variables,
    interpolate,
    seconds_to_hms,
)

S = 1_000
M = 60 * S
H = 60 * M


def var(name: str, kind: str = "custom", **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **fields}


def current(value: str | list[str]) -> dict[str, Any]:
    return {"current": {"value": value, "text": value}}


DASHBOARD: dict[str, Any] = {
    "templating": {
        "list": [
            var("single", **current("a'b\\c")),
            var("multi", multi=True, **current(["a.b", "c|d"])),
            var("one_of_multi", multi=True, **current(["a.b"])),
            var("with_all", includeAll=True, **current("x.y")),
            var(
                "all_options",
                multi=True,
                includeAll=True,
                options=[
                    {"text": "All", "value": "$__all"},
                    {"text": "a", "value": "a"},
                    {"text": "b.c", "value": "b.c"},
                ],
                **current(["$__all"]),
            ),
            var("all_custom", "query", includeAll=True, allValue=".*", **current("$__all")),
            var("all_nested", includeAll=True, allValue="$single|z", **current("$__all")),
            var("all_unknown", "query", includeAll=True, options=[], **current("$__all")),
            var("const", "constant", query="prod"),
            var("box", "textbox", **current("typed")),
            var("adhoc", "adhoc"),
        ]
    }
}
VARIABLES = dashboard_variables(DASHBOARD, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A single value: backslashes and single quotes escaped, nothing else.
        ("$single", "a\\\\'b\\\\c"),
        # Multi-value: regex-escaped (with a doubled backslash, for PromQL strings), in a group.
        ('up{x=~"$multi"}', 'up{x=~"(a\\\\.b|c\\\\|d)"}'),
        ("$one_of_multi", "a\\\\.b"),
        ("$with_all", "x\\\\.y"),
        # All: every option (never the All option itself), or the custom all value verbatim.
        ("$all_options", "(a|b\\\\.c)"),
        ("$all_custom", ".*"),
        ("$all_nested", "a\\\\'b\\\\c|z"),
        ("$all_unknown", ".*"),
        ("$const-$box", "prod-typed"),
        # The four syntaxes.
        ("${multi}", "(a\\\\.b|c\\\\|d)"),
        ("[[multi]]", "(a\\\\.b|c\\\\|d)"),
        ("${multi:raw}", "a.b,c|d"),
        ("[[multi:raw]]", "a.b,c|d"),
        # Formats.
        ("${multi:regex}", "(a\\.b|c\\|d)"),
        ("${one_of_multi:regex}", "a\\.b"),
        ("${multi:pipe}", "a.b|c|d"),
        ("${multi:csv}", "a.b,c|d"),
        ("${multi:json}", '["a.b", "c|d"]'),
        ("${multi:glob}", "{a.b,c|d}"),
        ("${multi:doublequote}", '"a.b","c|d"'),
        ("${single:raw}", "a'b\\c"),
        ("${all_options:text}", "All"),
        # Unknown names, ad hoc filters and built-ins are left for later (or for good).
        ("$nope ${nope} [[nope]]", "$nope ${nope} [[nope]]"),
        ("$adhoc", "$adhoc"),
        ("rate(x[$__rate_interval]) / $__interval", "rate(x[$__rate_interval]) / $__interval"),
    ],
)
def test_interpolation(text: str, expected: str) -> None:
    assert interpolate(text, VARIABLES) == expected


def test_an_unknown_format_is_an_error_naming_it() -> None:
    with pytest.raises(VariableError, match="'nonsense'"):
        interpolate("${multi:nonsense}", VARIABLES)


def test_overrides_replace_current_values() -> None:
    variables = dashboard_variables(
        DASHBOARD, {"single": "override", "multi": ["p", "q.r"], "all_options": "$__all"}
    )
    assert interpolate("$single", variables) == "override"
    assert interpolate("$multi", variables) == "(p|q\\\\.r)"
    assert interpolate("$all_options", variables) == "(a|b\\\\.c)"


def test_an_override_of_an_undefined_name_defines_it() -> None:
    variables = dashboard_variables({}, {"DS_PROM": "prom", "hosts": ["h1", "h2"]})
    assert interpolate("${DS_PROM}", variables) == "prom"
    assert interpolate("$hosts", variables) == "(h1|h2)"


@pytest.mark.parametrize("bad", [[], [1, 2], 3, None])
def test_a_malformed_override_is_an_error_naming_the_variable(bad: Any) -> None:
    with pytest.raises(VariableError, match="'single'"):
        dashboard_variables(DASHBOARD, {"single": bad})


def test_no_templating_means_no_variables() -> None:
    assert dashboard_variables({"templating": {"list": "nonsense"}}, {}) == {}
    assert dashboard_variables({}, {}) == {}


def builtins(
    expr: str,
    *,
    step: int = 2 * M,
    interval: int = 1 * M,
    min_step: str = "",
    scrape: int = 15 * S,
    range_ms: int = 48 * H,
) -> str:
    return interpolate_builtins(
        expr,
        step_ms=step,
        query_interval_ms=interval,
        min_step=min_step,
        scrape_interval_ms=scrape,
        range_ms=range_ms,
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('rate(ALERTS{job="test"}[$__interval])', 'rate(ALERTS{job="test"}[2m])'),
        ("[${__interval}]", "[2m]"),
        ("[$__interval_s]", "[120]"),
        ("[$__interval_s] + [$__interval]", "[120] + [2m]"),
        ("[${__interval_s}] + [${__interval}]", "[120] + [2m]"),
        ("[$__interval_ms]", "[120000]"),
        ("[${__interval_ms}] + [${__interval}]", "[120000] + [2m]"),
        ("[$__range]", "[172800s]"),
        ("[$__range_s]", "[172800]"),
        ("[${__range_s}s]", "[172800s]"),
        ("[$__range_ms]", "[172800000]"),
    ],
)
def test_builtins_like_grafanas_backend(expr: str, expected: str) -> None:
    assert builtins(expr) == expected


def test_range_seconds_round_half_away_from_zero() -> None:
    assert builtins("$__range_s", range_ms=40) == "0"
    assert builtins("$__range_s", range_ms=800) == "1"
    assert builtins("$__range_s", range_ms=1_500) == "2"
    assert builtins("$__range_ms", range_ms=20) == "20"


@pytest.mark.parametrize(
    ("min_step", "interval", "step", "expr", "expected"),
    [
        # Rate over a "Min step" of 5m at a 1m interval: max(1m + 5m, 4 * 5m).
        ("5m", 1 * M, 5 * M, "[$__rate_interval]", "[20m0s]"),
        # "Min step" $__rate_interval: the step already is the rate interval.
        ("$__rate_interval", 1 * M, 1 * M, "[$__rate_interval]", "[1m0s]"),
        # No min step: the scrape interval (15s) at a 2m interval: max(2m15s, 1m).
        ("", 2 * M, 2 * M, "[$__rate_interval_s]", "[135]"),
        ("", 2 * M, 2 * M, "[$__rate_interval_s] + [$__rate_interval]", "[135] + [2m15s]"),
        ("", 2 * M, 2 * M, "[${__rate_interval_s}] + [${__rate_interval}]", "[135] + [2m15s]"),
        ("", 2 * M, 2 * M, "[$__rate_interval_ms]", "[135000]"),
        # "Min step" $__interval stands for the step: max(2m + 2m, 4 * 2m).
        ("$__interval", 2 * M, 2 * M, "[$__rate_interval]", "[8m0s]"),
        # Grafana answers 0 for a min step it cannot read.
        ("invalid-interval", 100 * S, 2 * M, "[$__rate_interval]", "[0s]"),
    ],
)
def test_rate_interval_like_grafanas_backend(
    min_step: str, interval: int, step: int, expr: str, expected: str
) -> None:
    assert builtins(expr, min_step=min_step, interval=interval, step=step) == expected


def auto_interval(**fields: Any) -> dict[str, Any]:
    return {"templating": {"list": [var("smooth", "interval", auto=True, **fields)]}}


@pytest.mark.parametrize(
    ("fields", "range_ms", "expected"),
    [
        # 6h over 30 steps is 12 min, rounded to 10m.
        ({}, 6 * H, "10m"),
        ({"auto_count": 100}, 6 * H, "5m"),
        # 5 min over 30 steps is 10 s: the 10s minimum.
        ({}, 5 * M, "10s"),
        ({"auto_min": "1m"}, 5 * M, "1m"),
    ],
)
def test_auto_interval_variables(fields: dict[str, Any], range_ms: int, expected: str) -> None:
    for current_value in ("$__auto", "$__auto_interval_smooth"):
        dashboard = auto_interval(**fields, **current(current_value))
        variables = dashboard_variables(dashboard, {}, (0, range_ms))
        assert interpolate("[$smooth]", variables) == f"[{expected}]"
        assert interpolate("[$__auto_interval_smooth]", variables) == f"[{expected}]"


def test_a_chosen_interval_is_not_auto() -> None:
    variables = dashboard_variables(auto_interval(**current("1h")), {}, (0, 6 * H))
    assert interpolate("$smooth", variables) == "1h"


def test_from_and_to_with_their_date_formats() -> None:
    variables = dashboard_variables({}, {}, (1_435_781_430_781, 1_435_781_460_781))
    assert interpolate("$__from ${__to}", variables) == "1435781430781 1435781460781"
    assert interpolate("${__from:date}", variables) == "2015-07-01T20:10:30.781Z"
    assert interpolate("${__to:date:iso}", variables) == "2015-07-01T20:11:00.781Z"
    assert interpolate("@ ${__to:date:seconds}", variables) == "@ 1435781460"
    with pytest.raises(VariableError, match="date:YYYY"):
        interpolate("${__to:date:YYYY}", variables)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m"),
        (0.5, "500ms"),
        (7_200, "2h"),
        (400 * 86_400, "1y"),
        (0, "less than a millisecond"),
    ],
)
def test_seconds_to_hms(seconds: float, text: str) -> None:
    assert seconds_to_hms(seconds) == text


def test_legends_and_intervals_take_the_glob_format() -> None:
    # Grafana escapes for PromQL in expressions only; elsewhere a reference is a glob.
    assert interpolate("$single / $multi", VARIABLES, "glob") == "a'b\\c / {a.b,c|d}"
    assert interpolate("$one_of_multi", VARIABLES, "glob") == "a.b"
    assert interpolate("${multi:pipe}", VARIABLES, "glob") == "a.b|c|d"
    assert interpolate("$all_custom", VARIABLES, "glob") == ".*"


def test_an_unreadable_auto_minimum_is_an_error_naming_the_variable() -> None:
    dashboard = auto_interval(auto_min="soon", **current("$__auto"))
    with pytest.raises(VariableError, match="'smooth': auto_min"):
        dashboard_variables(dashboard, {}, (0, 6 * H))


def all_of(name: str, all_value: str) -> dict[str, Any]:
    return var(name, includeAll=True, allValue=all_value, **current("$__all"))


@pytest.mark.parametrize(
    "entries",
    [
        [all_of("x", "$x")],  # itself (was a RecursionError: a 500)
        [all_of("a", "$b"), all_of("b", "[[a]]")],  # each other
    ],
)
def test_an_all_value_naming_itself_is_an_error_naming_the_variable(
    entries: list[dict[str, Any]],
) -> None:
    variables = dashboard_variables({"templating": {"list": entries}}, {})
    with pytest.raises(VariableError, match="All value names variables nested"):
        interpolate('up{job=~"$' + entries[0]["name"] + '"}', variables)


def test_all_values_doubling_at_each_level_stop_at_the_size_bound() -> None:
    # Each level doubles: 64 copies of 20 kB here, and as many levels as allowed, 256.
    chain = [all_of(f"v{i}", f"$v{i + 1}$v{i + 1}") for i in range(6)]
    chain.append(var("v6", "constant", query="x" * 20_000))
    variables = dashboard_variables({"templating": {"list": chain}}, {})
    with pytest.raises(VariableError, match="over 1048576 characters"):
        interpolate("$v0", variables)


def test_all_values_fanning_out_to_empty_values_stop_at_the_reference_bound() -> None:
    # Nothing is produced, but 1000**3 references would be replaced without a bound.
    fan = [all_of(f"v{i}", f"$v{i + 1}" * 1000) for i in range(3)]
    fan.append(var("v3", "constant", query=""))
    variables = dashboard_variables({"templating": {"list": fan}}, {})
    with pytest.raises(VariableError, match="more than 100000 variable references"):
        interpolate("$v0", variables)


def test_a_huge_multi_value_repeated_stops_at_the_size_bound() -> None:
    # 1 MB of values referenced 2000 times: 2 GB of query without a bound.
    variables = dashboard_variables({}, {"v": ["x" * 1000] * 1000})
    with pytest.raises(VariableError, match="'v': the text it expands to is over"):
        interpolate("$v" * 2000, variables)


def test_a_large_selection_under_the_bound_interpolates() -> None:
    variables = dashboard_variables({}, {"host": [f"host-{i:05}" for i in range(20_000)]})
    assert interpolate('up{host=~"$host"}', variables).count("|") == 19_999


@pytest.mark.parametrize("name", ["__from", "__to", "__auto_interval_smooth", "__interval"])
def test_grafanas_global_variables_cannot_be_overridden(name: str) -> None:
    # An override of __from with 10**30 ms reached the date format: an OverflowError (a 500).
    with pytest.raises(VariableError, match=f"'{name}': names starting with __ are Grafana's"):
        dashboard_variables({}, {name: "9" * 30}, (0, 6 * H))


@pytest.mark.parametrize("value", ["9" * 30, "soon"])
def test_a_dashboard_variable_named_like_the_range_is_no_date(value: str) -> None:
    # The dashboard's own "__from" replaces the range's: 10**30 ms was an OverflowError.
    dashboard = {"templating": {"list": [var("__from", "constant", query=value)]}}
    variables = dashboard_variables(dashboard, {}, (0, 6 * H))
    with pytest.raises(VariableError, match=r"'__from': .* is no time"):
        interpolate("${__from:date}", variables)
