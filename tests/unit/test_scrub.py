"""scrub: what is removed from a posted dashboard before it is stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from snapshot_server.scrub import safe_original_url, sanitize_dashboard


@pytest.mark.parametrize(
    "url",
    ["http://grafana.example/d/abc", "https://g.example:3000/d/x?orgId=1", "/d/abc/board", "/"],
)
def test_links_that_may_be_followed(url: str) -> None:
    assert safe_original_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "//evil.example/d/x",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\\evil.example",
        "https:///evil",
        "http://",
        "ftp://host/x",
        "data:text/html,x",
        "/path\n",
        "",
        None,
        42,
    ],
)
def test_links_that_may_not(url: object) -> None:
    assert not safe_original_url(url)


def test_unsafe_original_url_is_dropped_and_nothing_else() -> None:
    dashboard = {"title": "t", "snapshot": {"originalUrl": "//evil", "timestamp": "x"}}
    sanitize_dashboard(dashboard, scrub=False)
    assert dashboard == {"title": "t", "snapshot": {"timestamp": "x"}}


def test_safe_original_url_is_kept() -> None:
    dashboard = {"snapshot": {"originalUrl": "https://grafana.example/d/x"}}
    sanitize_dashboard(dashboard, scrub=True)
    assert dashboard == {"snapshot": {"originalUrl": "https://grafana.example/d/x"}}


def unscrubbed() -> dict[str, Any]:
    return {
        "links": [{"url": "https://internal"}],
        "panels": [
            {"id": 1, "targets": [{"expr": "up"}], "links": [{"url": "x"}], "title": "p"},
            {
                "type": "row",
                "panels": [{"id": 2, "targets": [{"expr": "q2"}, "not a dict"]}],
            },
            {
                "id": 3,
                "targets": [
                    {"refId": "A", "queryType": "snapshot", "snapshot": [{"data": 1}], "expr": "q"},
                    {"refId": "B", "expr": "gone"},
                ],
            },
            "not a panel",
        ],
        "annotations": {"list": [{"name": "a", "target": {"q": 1}, "query": "q"}]},
        "templating": {"list": [{"name": "v", "query": "label_values(x)", "definition": "d"}]},
    }


def test_scrub_removes_what_grafanas_share_dialog_removes() -> None:
    dashboard = unscrubbed()
    sanitize_dashboard(dashboard, scrub=True)
    assert dashboard == {
        "panels": [
            {"id": 1, "title": "p"},
            {"type": "row", "panels": [{"id": 2}]},
            {
                "id": 3,
                "targets": [{"refId": "A", "queryType": "snapshot", "snapshot": [{"data": 1}]}],
            },
            "not a panel",
        ],
        "annotations": {"list": [{"name": "a"}]},
        "templating": {"list": [{"name": "v"}]},
    }


def test_without_scrub_queries_stay() -> None:
    dashboard = unscrubbed()
    sanitize_dashboard(dashboard, scrub=False)
    assert dashboard == unscrubbed()


@pytest.mark.parametrize(
    "dashboard",
    [{}, {"panels": "x"}, {"annotations": []}, {"templating": {"list": "x"}}, {"snapshot": 3}],
)
def test_odd_shapes_are_left_alone(dashboard: dict[str, Any]) -> None:
    before = copy.deepcopy(dashboard)
    sanitize_dashboard(dashboard, scrub=True)
    assert dashboard == before
