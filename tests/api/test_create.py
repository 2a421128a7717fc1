"""POST /api/snapshots: the create body and every error it can produce."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import orjson
import pytest

from tests.api.conftest import ROOT_URL, Client, MakeClient, auth, create
from tests.viewer.dashboards import REAL_SAMPLE

KEY = re.compile(r"^[0-9A-Za-z]{32}$")


async def test_create_returns_keys_and_urls(client: Client) -> None:
    data = await create(client)
    assert set(data) == {"deleteKey", "deleteUrl", "key", "url", "id"}
    assert KEY.match(data["key"])
    assert KEY.match(data["deleteKey"])
    assert data["key"] != data["deleteKey"]
    assert data["url"] == f"{ROOT_URL}dashboard/snapshot/{data['key']}"
    assert data["deleteUrl"] == f"{ROOT_URL}api/snapshots-delete/{data['deleteKey']}"
    assert isinstance(data["id"], int)
    assert data["id"] > 0


async def test_ids_increase(client: Client) -> None:
    ids = [(await create(client))["id"] for _ in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_dashboard_is_stored_as_posted(client: Client) -> None:
    dashboard = {"title": "ünï ✓", "panels": [{"id": 1, "x": [1.5, None, True]}], "z": {}}
    data = await create(client, dashboard=dashboard, name="n")
    response = await client.get(f"/api/snapshots/{data['key']}")
    assert response.status == 200
    assert (await response.json())["dashboard"] == dashboard


async def test_empty_key_means_generate(client: Client) -> None:
    data = await create(client, key="", deleteKey="")
    assert KEY.match(data["key"])
    assert KEY.match(data["deleteKey"])


async def test_client_chosen_keys_are_used(client: Client) -> None:
    data = await create(client, key="my-key_1", deleteKey="my-delete-key")
    assert data["key"] == "my-key_1"
    assert data["deleteKey"] == "my-delete-key"
    assert (await client.get("/api/snapshots/my-key_1")).status == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "has space"),
        ("key", "x" * 129),
        ("deleteKey", "semi;colon"),
        ("key", "ü"),
        ("key", "abc\n"),  # "$" would let a final newline through into headers
        ("deleteKey", "del\n"),
    ],
)
async def test_invalid_client_key_is_400(client: Client, field: str, value: str) -> None:
    data = await create(client, status=400, **{field: value})
    assert field in data["message"]


async def test_non_string_key_is_400(client: Client) -> None:
    data = await create(client, status=400, key=123)
    assert data["message"] == "key must be a string"


async def test_key_equal_to_delete_key_is_400(client: Client) -> None:
    data = await create(client, status=400, key="same", deleteKey="same")
    assert data["message"] == "key and deleteKey must differ"


async def test_taken_key_is_409_and_loses_nothing(client: Client) -> None:
    first = await create(client, key="taken", dashboard={"title": "first"})
    data = await create(client, status=409, key="taken", dashboard={"title": "second"})
    assert data["message"] == "A snapshot with this key already exists"
    body = await (await client.get("/api/snapshots/taken")).json()
    assert body["dashboard"] == {"title": "first"}
    assert (await client.get(f"/api/snapshots-delete/{first['deleteKey']}")).status == 200


async def test_taken_delete_key_is_409(client: Client) -> None:
    await create(client, deleteKey="dk-taken")
    data = await create(client, status=409, key="fresh-key", deleteKey="dk-taken")
    assert data["message"] == "A snapshot with this deleteKey already exists"
    assert (await client.get("/api/snapshots/fresh-key")).status == 404


@pytest.mark.parametrize(
    "raw",
    [b"{", b"", b"not json", b'{"dashboard": {}', b"[1,2]", b'"str"', b"null", b"\xff\xfe"],
)
async def test_malformed_body_is_400_bad_request_data(client: Client, raw: bytes) -> None:
    response = await client.post(
        "/api/snapshots",
        data=raw,
        headers={**auth("editor"), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert response.content_type == "application/json"
    assert await response.json() == {"message": "bad request data"}


@pytest.mark.parametrize("dashboard", [None, [], [1], "dash", 1, True])
async def test_dashboard_must_be_an_object(client: Client, dashboard: Any) -> None:
    data = await create(client, status=400, dashboard=dashboard)
    assert data["message"] == "dashboard is required and must be a JSON object"


async def test_missing_dashboard_is_400(client: Client) -> None:
    response = await client.post("/api/snapshots", json={"name": "x"}, headers=auth("editor"))
    assert response.status == 400
    assert "dashboard" in (await response.json())["message"]


@pytest.mark.parametrize("name", [None, ""])
async def test_missing_or_empty_name_is_unnamed(client: Client, name: str | None) -> None:
    body: dict[str, Any] = {} if name is None else {"name": name}
    data = await create(client, **body)
    listing = await (await client.get("/api/dashboard/snapshots", headers=auth("editor"))).json()
    assert [i["name"] for i in listing if i["id"] == data["id"]] == ["Unnamed snapshot"]


async def test_name_of_255_is_fine_and_256_is_400(client: Client) -> None:
    await create(client, name="n" * 255)
    data = await create(client, status=400, name="n" * 256)
    assert data["message"] == "name must be at most 255 characters"


async def test_non_string_name_is_400(client: Client) -> None:
    data = await create(client, status=400, name=["x"])
    assert data["message"] == "name must be a string"


@pytest.mark.parametrize("expires", ["3600", 3600.5, 1.0, True, [], {}])
async def test_non_integer_expires_is_400(client: Client, expires: Any) -> None:
    data = await create(client, status=400, expires=expires)
    assert data["message"] == "expires must be an integer number of seconds"


async def test_expires_above_100_years_is_400(client: Client) -> None:
    data = await create(client, status=400, expires=100 * 365 * 86400 + 1)
    assert "100 years" in data["message"]
    await create(client, expires=100 * 365 * 86400)


async def test_expires_beyond_64_bits_is_400(client: Client) -> None:
    response = await client.post(
        "/api/snapshots",
        data=b'{"dashboard": {}, "expires": 99999999999999999999999999}',
        headers=auth("editor"),
    )
    assert response.status == 400


async def test_max_expires_is_enforced_and_is_the_default(make_client: MakeClient) -> None:
    client = await make_client(max_expires=3600)
    data = await create(client, status=400, expires=3601)
    assert "3600" in data["message"]
    assert "max_expires" in data["message"]
    for expires in (0, -5, None):
        body: dict[str, Any] = {} if expires is None else {"expires": expires}
        made = await create(client, **body)
        meta = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["meta"]
        created = meta["created"]
        delta = datetime.fromisoformat(meta["expires"]) - datetime.fromisoformat(created)
        assert delta.total_seconds() == 3600


async def test_external_true_is_403_when_disabled(client: Client) -> None:
    data = await create(client, status=403, external=True)
    assert data["message"] == "External dashboard creation is disabled"


async def test_external_non_bool_is_400(client: Client) -> None:
    data = await create(client, status=400, external="yes")
    assert data["message"] == "external must be true or false"


async def test_unknown_fields_are_ignored(client: Client) -> None:
    await create(client, whatever={"a": 1}, apiVersion="v9")


async def test_body_over_max_body_bytes_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body=4096)
    big = orjson.dumps({"dashboard": {"pad": "x" * 5000}})
    response = await client.post("/api/snapshots", data=big, headers=auth("editor"))
    assert response.status == 413
    assert response.content_type == "application/json"
    assert "4096" in (await response.json())["message"]
    # The limit is raised from aiohttp's default: a body just under it is accepted.
    fits = orjson.dumps({"dashboard": {"pad": "x" * 3000}})
    assert (await client.post("/api/snapshots", data=fits, headers=auth("editor"))).status == 200


async def test_chunked_body_over_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body=4096)

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000
        yield b'{"dashboard": {}}'

    response = await client.post("/api/snapshots", data=chunks(), headers=auth("editor"))
    assert response.status == 413
    assert "message" in await response.json()


async def test_default_limit_accepts_more_than_aiohttps_1mib(make_client: MakeClient) -> None:
    client = await make_client(max_body=64 << 20)
    big = io.BytesIO(orjson.dumps({"dashboard": {"pad": "x" * (3 << 20)}}))
    response = await client.post("/api/snapshots", data=big, headers=auth("editor"))
    assert response.status == 200


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json;charset=utf-8", "application/json; charset=UTF-8"],
)
async def test_content_type_with_or_without_charset(client: Client, content_type: str) -> None:
    response = await client.post(
        "/api/snapshots",
        data=b'{"dashboard": {"title": "t"}}',
        headers={**auth("editor"), "Content-Type": content_type},
    )
    assert response.status == 200


async def test_create_needs_a_token(client: Client) -> None:
    response = await client.post("/api/snapshots", json={"dashboard": {}})
    assert response.status == 401
    assert await response.json() == {"message": "Unauthorized"}


async def test_viewer_cannot_create(client: Client) -> None:
    data = await create(client, user="viewer", status=403)
    assert data == {"message": "forbidden"}


async def test_public_mode_creates_anonymously_as_org_1_user_0(make_client: MakeClient) -> None:
    client = await make_client(public_mode=True)
    response = await client.post("/api/snapshots", json={"dashboard": {"title": "anon"}})
    assert response.status == 200
    listing = await (await client.get("/api/dashboard/snapshots", headers=auth("admin"))).json()
    assert [(i["orgId"], i["userId"]) for i in listing] == [(1, 0)]


async def test_original_url_is_kept_only_when_safe(client: Client) -> None:
    cases = {
        "https://grafana.example/d/abc": True,
        "http://grafana.example/d/abc": True,
        "/d/abc?orgId=1": True,
        "//evil.example/x": False,
        "javascript:alert(1)": False,
        " JavaScript:alert(1)": False,
        "data:text/html,x": False,
        "/\\evil.example": False,
        "/\t/evil.example": False,  # browsers drop tabs and newlines: this is //evil.example
        "/\n/evil.example": False,
        "https:///evil.example": False,
        "https://": False,
    }
    for url, kept in cases.items():
        made = await create(client, dashboard={"snapshot": {"originalUrl": url, "t": 1}})
        stored = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["dashboard"]
        expected = {"originalUrl": url, "t": 1} if kept else {"t": 1}
        assert stored["snapshot"] == expected, url


async def test_scrub_strips_queries_and_links(make_client: MakeClient) -> None:
    client = await make_client(scrub=True)
    dashboard = {
        "title": "t",
        "links": [{"url": "https://internal"}],
        "panels": [
            {"id": 1, "targets": [{"expr": "secret"}], "links": [{"url": "x"}], "title": "p"},
            {"type": "row", "panels": [{"id": 2, "targets": [{"expr": "s2"}]}]},
        ],
        "annotations": {"list": [{"name": "a", "target": {"q": 1}, "snapshotData": []}]},
        "templating": {"list": [{"name": "v", "query": "label_values(x)", "current": {}}]},
    }
    made = await create(client, dashboard=dashboard)
    stored = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["dashboard"]
    assert stored == {
        "title": "t",
        "panels": [{"id": 1, "title": "p"}, {"type": "row", "panels": [{"id": 2}]}],
        "annotations": {"list": [{"name": "a", "snapshotData": []}]},
        "templating": {"list": [{"name": "v", "current": {}}]},
    }


async def test_scrub_keeps_scenes_snapshot_data(make_client: MakeClient) -> None:
    """Grafana 10.1+ keeps a panel's data in targets[].snapshot: scrubbing must not lose it."""
    client = await make_client(scrub=True)
    frame = {"schema": {"fields": [{"name": "time"}]}, "data": {"values": [[1, 2]]}}
    dashboard = {
        "panels": [
            {
                "targets": [
                    {"refId": "A", "queryType": "snapshot", "snapshot": [frame], "expr": "q"},
                    {"refId": "B", "expr": "secret query"},
                ]
            }
        ]
    }
    made = await create(client, dashboard=dashboard)
    stored = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["dashboard"]
    assert stored == {
        "panels": [{"targets": [{"refId": "A", "queryType": "snapshot", "snapshot": [frame]}]}]
    }


async def test_dashboard_nested_too_deeply_is_400(client: Client) -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    data = await create(client, status=400, dashboard={"deep": deep})
    assert data["message"] == "dashboard is nested too deeply"


async def test_without_scrub_queries_are_kept(client: Client) -> None:
    dashboard = {"panels": [{"targets": [{"expr": "q"}]}], "links": [{"url": "u"}]}
    made = await create(client, dashboard=dashboard)
    stored = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["dashboard"]
    assert stored == dashboard


async def test_grafanas_own_create_body_round_trips(client: Client) -> None:
    """The body a Grafana 10.4 UI posts (shared/fixtures), sent byte for byte."""
    raw = REAL_SAMPLE.read_bytes()
    response = await client.post(
        "/api/snapshots", data=raw, headers={**auth("editor"), "Content-Type": "application/json"}
    )
    assert response.status == 200
    made = await response.json()
    body = await (await client.get(f"/api/snapshots/{made['key']}")).json()
    assert body["dashboard"] == orjson.loads(raw)["dashboard"]
    listing = await (await client.get("/api/dashboard/snapshots", headers=auth("editor"))).json()
    assert [i["name"] for i in listing] == ["simple and small"]
