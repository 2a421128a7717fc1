"""Planning: which targets, which datasource, which range and step (worked out by hand below
from Grafana's rules, see test_interval.py for the rules themselves)."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import pytest

from snapshot_server.capture.interval import IntervalError
from snapshot_server.capture.model import CaptureRequest, DatasourceTarget
from snapshot_server.capture.panels import iter_panels
from snapshot_server.capture.plan import PlanError, dashboard_zone, plan_capture
from snapshot_server.capture.timeparse import TimeParseError
from snapshot_server.capture.variables import VariableError

from .sample import MAIN, NOW_MS, PROM, SLOW, resolve, sample_dashboard

SIX_HOURS = 6 * 3_600_000


def summary(
    dashboard: dict[str, Any], request: CaptureRequest | None = None
) -> list[tuple[Any, ...]]:
    plan = plan_capture(dashboard, request or CaptureRequest(), resolve, NOW_MS)
    return [
        (q.panel_index, q.panel_id, q.ref_id, q.datasource.name, q.instant, q.step_ms, q.expr)
        for q in plan.queries
    ]


def test_the_sample_dashboard_plan() -> None:
    plan = plan_capture(sample_dashboard(), CaptureRequest(), resolve, NOW_MS)
    assert (plan.from_ms, plan.to_ms) == (NOW_MS - SIX_HOURS, NOW_MS)
    assert (plan.raw_from, plan.raw_to, plan.captured_at_ms) == ("now-6h", "now", NOW_MS)
    # Panels 1, 5 (inside a collapsed row), 6 (mixed) and 8 (null datasource); not the text
    # panel, the Loki panel, the row itself or the panel whose only target is hidden.
    assert plan.panels == 4
    rows = [
        (
            q.panel_index,
            q.panel_id,
            q.ref_id,
            q.datasource.name,
            q.instant,
            q.step_ms,
            q.interval_ms,
        )
        for q in plan.queries
    ]
    assert rows == [
        # Full width (1920 points): 6h / 1920 = 11.25 s, rounded to 10 s, raised to the 15 s
        # scrape interval; the step is then 15 s.
        (0, 1, "A", "main", False, 15_000, 15_000),
        # A target that is both range and instant runs twice, as Grafana runs it.
        (0, 1, "D", "main", False, 15_000, 15_000),
        (0, 1, "D-Instant", "main", True, 15_000, 15_000),
        # maxDataPoints 100: 216 s rounds to 5m (min interval 1m is lower); min step 2m is
        # lower than 216 s, which rounds to 5m; intervalFactor 2 makes it 10m.
        (3, 5, "A", "main", False, 600_000, 300_000),
        # Half width (960 points): 22.5 s rounds to 20 s, raised to the slow datasource's 60 s.
        (4, 6, "A", "slow", False, 60_000, 60_000),
        # The mixed panel's target without a datasource goes to the default (15 s scrape).
        (4, 6, "C", "main", False, 20_000, 20_000),
        # No grid position: 500 points; 43.2 s rounds to 30 s.
        (6, 8, "A", "main", False, 30_000, 30_000),
    ]


def test_expressions_are_interpolated_and_ranges_aligned() -> None:
    plan = plan_capture(sample_dashboard(), CaptureRequest(), resolve, NOW_MS)
    first = plan.queries[0]
    # $job is multi-value: (api|web); $__rate_interval = max(15 s + 15 s, 4 * 15 s) = 1m0s.
    assert first.expr == 'sum by (job) (rate(http_requests_total{job=~"(api|web)"}[1m0s]))'
    assert first.legend_format == "{{job}}"
    assert (first.panel_title, first.datasource) == ("Requests", MAIN)
    # Start and end floored to the 15 s step: now ends in :27.
    assert first.start_ms == NOW_MS - SIX_HOURS - 12_000
    assert first.end_ms == NOW_MS - 12_000
    nested = plan.queries[3]
    assert nested.start_ms % 600_000 == 0
    assert nested.end_ms == (NOW_MS // 600_000) * 600_000
    assert plan.queries[4].datasource == SLOW


def test_request_range_variables_and_points_override_the_dashboards() -> None:
    request = CaptureRequest(
        time_from="now-1h", time_to="now-30m", variables={"job": "db"}, max_data_points=100
    )
    plan = plan_capture(sample_dashboard(), request, resolve, NOW_MS)
    assert (plan.from_ms, plan.to_ms) == (NOW_MS - 3_600_000, NOW_MS - 1_800_000)
    assert (plan.raw_from, plan.raw_to) == ("now-1h", "now-30m")
    first = plan.queries[0]
    # 30 min over 100 points: 18 s rounds to 20 s; the step follows: 20 s.
    assert (first.interval_ms, first.step_ms) == (20_000, 20_000)
    assert '{job=~"db"}' in first.expr
    # The rate interval: max(20 s + 15 s, 60 s) = 1m0s.
    assert first.expr.endswith("[1m0s]))")


def test_dashboard_without_time_covers_the_last_six_hours() -> None:
    dashboard = sample_dashboard()
    del dashboard["time"]
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    assert (plan.from_ms, plan.to_ms) == (NOW_MS - SIX_HOURS, NOW_MS)


def test_absolute_dashboard_time() -> None:
    dashboard = sample_dashboard()
    dashboard["time"] = {"from": "2023-11-14T00:00:00.000Z", "to": 1_699_923_600_000}
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    assert (plan.from_ms, plan.to_ms) == (1_699_920_000_000, 1_699_923_600_000)
    assert (plan.raw_from, plan.raw_to) == ("2023-11-14T00:00:00.000Z", "1699923600000")


def test_request_datasource_takes_prometheus_targets_no_datasource_claims() -> None:
    dashboard = {
        "panels": [
            {
                "id": 1,
                "datasource": {"type": "prometheus", "uid": "elsewhere"},
                "targets": [{"refId": "A", "expr": "up"}],
            },
            {
                "id": 2,
                "datasource": {"type": "loki", "uid": "elsewhere"},
                "targets": [{"refId": "A", "expr": '{job="x"}'}],
            },
            {"id": 3, "datasource": "Unknown name", "targets": [{"refId": "A", "expr": "up"}]},
        ]
    }
    assert summary(dashboard) == []
    plan = plan_capture(dashboard, CaptureRequest(datasource="Prometheus"), resolve, NOW_MS)
    assert [(q.panel_id, q.datasource) for q in plan.queries] == [(1, MAIN), (3, MAIN)]


def test_an_unknown_request_datasource_is_an_error_naming_it() -> None:
    with pytest.raises(PlanError, match="'nowhere'"):
        plan_capture(sample_dashboard(), CaptureRequest(datasource="nowhere"), resolve, NOW_MS)


def test_datasource_variables_resolve_to_their_value() -> None:
    dashboard = {
        "templating": {
            "list": [{"name": "ds", "type": "datasource", "current": {"value": "slow-uid"}}]
        },
        "panels": [
            {
                "id": 1,
                "datasource": {"type": "prometheus", "uid": "${ds}"},
                "targets": [{"refId": "A", "expr": "up"}],
            },
        ],
    }
    assert summary(dashboard)[0][3] == "slow"
    overridden = CaptureRequest(variables={"ds": "prom-uid"})
    assert summary(dashboard, overridden)[0][3] == "main"


def test_legacy_rows_are_walked_too() -> None:
    dashboard = {
        "rows": [{"panels": [{"id": 9, "targets": [{"refId": "A", "expr": "up"}]}]}],
    }
    assert [row[:3] for row in summary(dashboard)] == [(0, 9, "A")]


def test_iter_panels_yields_nested_panels_in_order_and_skips_rows() -> None:
    found = [(index, panel.get("id")) for index, panel in iter_panels(sample_dashboard())]
    assert found == [(0, 1), (1, 2), (2, 3), (3, 5), (4, 6), (5, 7), (6, 8)]


def test_nothing_to_capture_is_an_empty_plan() -> None:
    plan = plan_capture({"panels": [{"type": "text"}]}, CaptureRequest(), resolve, NOW_MS)
    assert (plan.queries, plan.panels) == ((), 0)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: d.update(time={"from": "now", "to": "now-1h"}), TimeParseError, "before"),
        (lambda d: d.update(time={"from": "yesterday", "to": "now"}), TimeParseError, "yesterday"),
        (
            lambda d: d["panels"][0]["targets"][0].update(interval="5x"),
            IntervalError,
            "panel 1 \\(Requests\\) target A",
        ),
        (
            lambda d: d["panels"][3]["panels"][0].update(interval="soon"),
            IntervalError,
            "panel 5 \\(Nested stat\\)",
        ),
        (
            lambda d: d["panels"][0]["targets"][0].update(expr="${job:bogus}"),
            VariableError,
            "'bogus'",
        ),
    ],
)
def test_bad_dashboards_are_value_errors_naming_the_place(
    change: Any, error: type[ValueError], message: str
) -> None:
    dashboard = sample_dashboard()
    change(dashboard)
    with pytest.raises(error, match=message):
        plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)


def test_a_non_positive_interval_factor_counts_as_one() -> None:
    dashboard = {
        "panels": [
            {
                "id": 1,
                "targets": [
                    {"refId": "A", "expr": "up", "intervalFactor": -5},
                    {"refId": "B", "expr": "up", "intervalFactor": 1},
                ],
            }
        ]
    }
    steps = {row[2]: row[5] for row in summary(dashboard)}
    assert steps["A"] == steps["B"] > 0


def test_unknown_datasource_target_is_left_alone() -> None:
    resolved: list[Any] = []

    def recording(ref: Any) -> DatasourceTarget | None:
        resolved.append(ref)
        return None

    plan = plan_capture(sample_dashboard(), CaptureRequest(), recording, NOW_MS)
    assert plan.queries == ()
    assert {"type": "prometheus", "uid": "prom-uid"} in resolved
    assert "prom-uid" in resolved  # "${ds}" interpolated before resolving


def test_instant_queries_run_at_the_ranges_unaligned_end() -> None:
    plan = plan_capture(sample_dashboard(), CaptureRequest(), resolve, NOW_MS)
    instant = plan.queries[2]
    assert (instant.ref_id, instant.instant) == ("D-Instant", True)
    assert (instant.start_ms, instant.end_ms) == (NOW_MS - SIX_HOURS, NOW_MS)
    assert plan.queries[1].end_ms == NOW_MS - 12_000  # its range twin is aligned


def test_steps_align_in_the_dashboards_time_zone() -> None:
    dashboard = {
        "timezone": "Asia/Kolkata",  # UTC+05:30
        "panels": [{"id": 1, "targets": [{"refId": "A", "expr": "up", "interval": "1h"}]}],
    }
    [query] = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS).queries
    assert query.step_ms == 3_600_000
    # Whole hours in Kolkata are half past the hour in UTC.
    assert query.end_ms % 3_600_000 == 1_800_000
    assert query.end_ms <= NOW_MS < query.end_ms + 3_600_000
    utc = plan_capture({**dashboard, "timezone": "utc"}, CaptureRequest(), resolve, NOW_MS)
    assert utc.queries[0].end_ms % 3_600_000 == 0


@pytest.mark.parametrize("zone", ["browser", "", "Not/AZone", "../etc"])
def test_a_zone_without_a_browser_or_unknown_is_utc(zone: str) -> None:
    assert dashboard_zone({"timezone": zone}) == UTC
    assert dashboard_zone({}) == UTC


def test_legends_and_min_steps_are_interpolated_without_promql_escaping() -> None:
    dashboard = {
        "templating": {
            "list": [
                {
                    "name": "host",
                    "type": "custom",
                    "includeAll": True,
                    "current": {"value": "db.1"},
                },
                {"name": "step", "type": "custom", "current": {"value": "5m"}},
            ]
        },
        "panels": [
            {
                "id": 1,
                "targets": [
                    {
                        "refId": "A",
                        "expr": 'up{host=~"$host"}',
                        "legendFormat": "$host {{job}}",
                        "interval": "$step",
                    },
                ],
            }
        ],
    }
    [query] = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS).queries
    assert query.expr == 'up{host=~"db\\\\.1"}'
    assert query.legend_format == "db.1 {{job}}"
    assert query.step_ms == 300_000


def overridden(**overrides: Any) -> dict[str, Any]:
    return {
        "time": {"from": "now-6h", "to": "now"},
        "panels": [{"id": 1, **overrides, "targets": [{"refId": "A", "expr": "up"}]}],
    }


def only_query(dashboard: dict[str, Any]) -> Any:
    [query] = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS).queries
    return query


def test_relative_time_override_replaces_a_relative_range() -> None:
    query = only_query(overridden(timeFrom="1h"))
    # 1h over 500 points: 7.2 s rounds to 5 s, raised to the 15 s scrape interval.
    assert query.step_ms == 15_000
    assert query.start_ms == ((NOW_MS - 3_600_000) // 15_000) * 15_000
    assert query.end_ms == (NOW_MS // 15_000) * 15_000
    assert only_query(overridden(timeFrom="now-1h")) == query


def test_relative_time_override_leaves_an_absolute_range() -> None:
    dashboard = overridden(timeFrom="1h")
    dashboard["time"] = {"from": "1699920000000", "to": "1699923600000"}
    query = only_query(dashboard)
    assert (query.start_ms, query.end_ms) == (1_699_920_000_000, 1_699_923_600_000)


def test_time_shift_moves_the_range_back() -> None:
    plain = only_query(overridden())
    shifted = only_query(overridden(timeShift="1d"))
    assert (shifted.start_ms, shifted.end_ms) == (
        plain.start_ms - 86_400_000,
        plain.end_ms - 86_400_000,
    )
    both = only_query(overridden(timeFrom="1h", timeShift="2h"))
    assert both.end_ms == ((NOW_MS - 7_200_000) // 15_000) * 15_000


def test_time_shift_with_rounding_rounds_each_end_its_way() -> None:
    dashboard = overridden(timeShift="1d/d")
    dashboard["time"] = {"from": "now-6h", "to": "now"}
    query = only_query(dashboard)
    # NOW is 2023-11-14T22:13:27Z: the day before, from its start to its end.
    step = query.step_ms
    assert query.start_ms == (1_699_833_600_000 // step) * step  # 2023-11-13T00:00Z
    assert query.end_ms == ((1_699_920_000_000 - 1) // step) * step  # 2023-11-13T23:59:59.999Z


def test_unreadable_overrides_are_ignored_as_grafana_ignores_them() -> None:
    plain = only_query(overridden())
    assert only_query(overridden(timeFrom="soon", timeShift="later")) == plain


@pytest.mark.parametrize(
    ("points", "width"), [(0.5, None), (None, 0.001), (float("inf"), None), (-3, 0)]
)
def test_fractional_or_odd_point_counts_never_divide_by_zero(
    points: float | None, width: float | None
) -> None:
    panel: dict[str, Any] = {"id": 1, "targets": [{"refId": "A", "expr": "up"}]}
    if points is not None:
        panel["maxDataPoints"] = points
    if width is not None:
        panel["gridPos"] = {"w": width}
    [query] = plan_capture({"panels": [panel]}, CaptureRequest(), resolve, NOW_MS).queries
    assert query.step_ms > 0


def test_the_interpolated_queries_of_a_plan_are_bounded_in_sum() -> None:
    # 40 targets each under the one-interpolation bound (900 kB), 36 MB in all without a sum.
    variables: dict[str, str | list[str]] = {"v": ["x" * 900] * 1000}
    dashboard = {
        "panels": [
            {"id": i, "datasource": PROM, "targets": [{"refId": "A", "expr": "$v"}]}
            for i in range(40)
        ]
    }
    with pytest.raises(PlanError, match="over 16777216 characters"):
        plan_capture(dashboard, CaptureRequest(variables=variables), resolve, NOW_MS)


def test_a_width_overflowing_to_infinity_plans_like_a_wide_panel() -> None:
    # 1e307 columns of 80 px is infinity, which int() refused (an OverflowError: a 500).
    wide = {"id": 1, "gridPos": {"w": 1e307}, "targets": [{"refId": "A", "expr": "up"}]}
    many = {"id": 2, "maxDataPoints": 1e15, "targets": [{"refId": "B", "expr": "up"}]}
    steps = {row[2]: row[5] for row in summary({"panels": [wide, many]})}
    assert steps["A"] == steps["B"] == MAIN.scrape_interval_ms  # the floor of every step


def test_datasource_variables_cost_no_copy_of_every_variable_per_reference() -> None:
    # Each "$ds" reference copied all 5,000 variables: 5 million copies, ~10 s here, and a
    # 1 MB body could hold the event loop for minutes. Read on lookup it takes milliseconds.
    variables: list[dict[str, Any]] = [
        {"name": f"v{i}", "type": "constant", "query": "x"} for i in range(5_000)
    ]
    variables.append({"name": "ds", "type": "datasource", "current": {"value": "prom-uid"}})
    dashboard = {
        "templating": {"list": variables},
        "panels": [
            {"id": i, "datasource": "$ds", "targets": [{"refId": "A", "expr": "up"}]}
            for i in range(1_000)
        ],
    }
    started = time.perf_counter()
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    assert time.perf_counter() - started < 2
    assert {q.datasource for q in plan.queries} == {MAIN}
    assert len(plan.queries) == 1_000
