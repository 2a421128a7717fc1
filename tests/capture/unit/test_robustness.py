"""Whatever a client sends, planning and embedding answer a plan or a ``ValueError`` (a 400),
and frame conversion a frame list or a ``FrameError``: never another exception (a 500)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapshot_server.capture.embed import embed_capture
from snapshot_server.capture.frames import FrameError, query_frames
from snapshot_server.capture.model import CaptureRequest, QueryResult
from snapshot_server.capture.plan import plan_capture

from .sample import NOW_MS, resolve

BOUNDED = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "now",
            "now-6h",
            "now/d",
            "A",
            "$var",
            "${var:raw}",
            "[[var]]",
            "$__all",
            "5m",
            "$__rate_interval",
            "prometheus",
            "prom-uid",
            "-- Mixed --",
            "table",
            "heatmap",
            "__auto",
            "{{job}}",
            "le",
            "1h",
            "2024-01-02",
            "x{",
            "${var:date:seconds}",
        ]
    ),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
target = st.fixed_dictionaries(
    {},
    optional={
        "refId": json_values,
        "expr": json_values,
        "hide": json_values,
        "instant": json_values,
        "range": json_values,
        "interval": json_values,
        "intervalFactor": json_values,
        "legendFormat": json_values,
        "format": json_values,
        "datasource": json_values,
    },
)
panel = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "type": st.sampled_from(["row", "timeseries", "stat"]) | json_values,
        "title": json_values,
        "datasource": json_values,
        "targets": st.lists(target, max_size=3) | json_values,
        "panels": json_values,
        "maxDataPoints": json_values,
        "interval": json_values,
        "gridPos": json_values,
        "timeFrom": st.sampled_from(["1h", "+1h", "now-2d", "1d/d", "nope"]) | json_values,
        "timeShift": st.sampled_from(["1d", "1d/d", "-1h", "nope"]) | json_values,
    },
)
variable = st.fixed_dictionaries(
    {"name": st.sampled_from(["var", "ds", "x"]) | json_values},
    optional={
        "type": st.sampled_from(["custom", "query", "interval", "constant"]) | json_values,
        "current": json_values,
        "options": json_values,
        "multi": json_values,
        "includeAll": json_values,
        "allValue": json_values,
        "query": json_values,
        "auto": json_values,
        "auto_count": json_values,
        "auto_min": json_values,
    },
)
dashboard = st.fixed_dictionaries(
    {},
    optional={
        "time": json_values,
        "timezone": json_values,
        "weekStart": json_values,
        "panels": st.lists(panel, max_size=4) | json_values,
        "rows": json_values,
        "templating": st.fixed_dictionaries({"list": st.lists(variable, max_size=3)}) | json_values,
    },
)
requests = st.builds(
    CaptureRequest,
    datasource=st.sampled_from([None, "Prometheus", "nowhere"]),
    time_from=st.sampled_from([None, "now-1h", "bad", "0"]),
    time_to=st.sampled_from([None, "now", "now-2h"]),
    variables=st.dictionaries(
        st.sampled_from(["var", "ds", "x"]),
        st.sampled_from(["a", ["a", "b.c"], "$__all", "prom-uid"]),
        max_size=2,
    ),
    max_data_points=st.sampled_from([None, 1, 100]),
)


@BOUNDED
@given(dashboard=dashboard, request=requests)
def test_planning_and_embedding_raise_only_value_errors(
    dashboard: dict[str, Any], request: CaptureRequest
) -> None:
    try:
        plan = plan_capture(dashboard, request, resolve, NOW_MS)
    except ValueError:
        return
    for query in plan.queries:
        assert query.step_ms > 0
    results = [QueryResult(q, {"resultType": "matrix", "result": []}) for q in plan.queries]
    embed_capture(dashboard, plan, results)


answers = st.fixed_dictionaries(
    {
        "resultType": st.sampled_from(["matrix", "vector", "scalar", "string"]) | json_values,
        "result": json_values,
    }
)


@BOUNDED
@given(data=answers)
def test_frame_conversion_raises_only_frame_errors(data: dict[str, Any]) -> None:
    from .test_frames import planned

    with contextlib.suppress(FrameError):
        query_frames(QueryResult(planned(), data))
