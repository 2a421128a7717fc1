"""webapp.parsing: create bodies and list queries to typed requests, or a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from snapshot_server.errors import InvalidSnapshot
from snapshot_server.webapp.parsing import parse_create_request, parse_list_query


def test_minimal_body_gets_defaults() -> None:
    request = parse_create_request({"dashboard": {"title": "t"}})
    assert request.dashboard == {"title": "t"}
    assert request.name == "Unnamed snapshot"
    assert request.expires == 0
    assert request.external is False
    assert request.key is None
    assert request.delete_key is None


def test_grafanas_body_is_read_as_sent() -> None:
    body = {
        "dashboard": {"panels": []},
        "name": "n",
        "expires": 3600,
        "external": False,
        "key": "",  # Grafana's "generate one"
        "deleteKey": "",
        "unknown": "ignored",
    }
    request = parse_create_request(body)
    assert (request.name, request.expires, request.key, request.delete_key) == (
        "n",
        3600,
        None,
        None,
    )


def test_chosen_keys_are_passed_on() -> None:
    request = parse_create_request({"dashboard": {}, "key": "k1", "deleteKey": "d1"})
    assert (request.key, request.delete_key) == ("k1", "d1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "dashboard"),
        ({"dashboard": None}, "dashboard"),
        ({"dashboard": []}, "dashboard"),
        ({"dashboard": "x"}, "dashboard"),
        ({"dashboard": {}, "name": 5}, "name"),
        ({"dashboard": {}, "name": "x" * 256}, "name"),
        ({"dashboard": {}, "expires": "60"}, "expires"),
        ({"dashboard": {}, "expires": 1.5}, "expires"),
        ({"dashboard": {}, "expires": True}, "expires"),
        ({"dashboard": {}, "external": "yes"}, "external"),
        ({"dashboard": {}, "key": 7}, "key"),
        ({"dashboard": {}, "deleteKey": ["x"]}, "deleteKey"),
    ],
)
def test_bad_field_is_named(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSnapshot) as info:
        parse_create_request(body)
    assert info.value.message.startswith(field)


def test_list_query_defaults() -> None:
    query = parse_list_query({})
    assert (query.query, query.limit, query.page) == ("", 1000, 1)


def test_list_query_reads_its_parameters() -> None:
    query = parse_list_query({"query": "cpu", "limit": "0050", "page": "3"})
    assert (query.query, query.limit, query.page) == ("cpu", 50, 3)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "1000000001"}, "page"),
        ({"page": "9" * 5000}, "page"),
        ({"page": "0" * 5000 + "1"}, None),  # leading zeros are still page 1
        ({"page": "\u0663"}, "page"),
        ({"page": " 1"}, "page"),
    ],
)
def test_list_query_bounds(params: dict[str, str], name: str | None) -> None:
    if name is None:
        assert parse_list_query(params).page == 1
        return
    with pytest.raises(InvalidSnapshot) as info:
        parse_list_query(params)
    assert info.value.message.startswith(f"{name} must be an integer between 1 and")
