"""The OpenAPI document (``GET /api/openapi.json``): valid OpenAPI 3.1, the same set of routes
as the application registers (both ways), served to anyone, every /api/ error documented as
``{"message"}``, and each operation's security what the server enforces.

(What the server answers, operation by operation, is fuzzed against the document on live
servers in ``tests/fuzz/``.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from openapi_spec_validator import validate

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.viewer.page import STATIC_PREFIX
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.appkeys import STORE
from snapshot_server.webapp.openapi import DOCUMENT_PATH, document
from snapshot_server.webapp.openapi.components import BEARER
from snapshot_server.webapp.requests import UNMATCHED
from tests.api.conftest import Client, api_config, auth
from tests.support import ClientFactory, serve

METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def memory_app(**snapshots: Any) -> web.Application:
    return create_app(api_config(StorageConfig(backend="memory"), **snapshots), open_store)


async def memory_client(aiohttp_client: ClientFactory, **snapshots: Any) -> Client:
    return await serve(aiohttp_client, memory_app(**snapshots))


def canonical(path: str) -> str:
    """A path as the comparison sees it: no trailing slash, leading slashes as one (Grafana's
    ``//api/snapshots`` is the create operation), parameters unnamed (the routes say
    ``{delete_key}`` where the document says ``{deleteKey}``)."""
    return re.sub(r"\{[^}]*\}", "{}", ("/" + path.lstrip("/")).rstrip("/") or "/")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """``(METHOD, path, operation)`` for every documented operation."""
    return [
        (method.upper(), path, operation)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


each_operation = pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=[f"{m} {p}" for m, p, _ in operations()]
)


def registered_routes(app: web.Application) -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every route but the fallback and the viewer's static files."""
    routes = []
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        if resource.name == UNMATCHED:
            continue  # answers unknown paths (404/405) for every method
        if isinstance(resource, web.StaticResource):
            # The page's assets, not the API: the document says so, and nothing else is static.
            assert resource.canonical == STATIC_PREFIX.rstrip("/")
            continue
        routes.append((route.method, resource.canonical))
    return routes


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # the OpenAPI 3.1 schema, refs resolved, path parameters declared


def test_the_routes_registered_are_the_operations_documented() -> None:
    registered = {(m, canonical(p)) for m, p in registered_routes(memory_app())}
    documented = {(m, canonical(p)) for m, p, _ in operations()}
    assert registered - documented == set(), "routes the document does not list"
    assert documented - registered == set(), "documented operations no route serves"
    # One operation per route: two spellings of a path never hide two different routes.
    assert len(documented) == len(operations())


def test_every_route_answers_with_and_without_a_trailing_slash() -> None:
    routes = {(m, p) for m, p in registered_routes(memory_app()) if p != "/metrics"}
    for method, path in routes:
        twin = path[:-1] if path.endswith("/") else path + "/"
        assert (method, twin) in routes, (method, path)
    # The document lists the canonical spelling only.
    assert not [p for _, p, _ in operations() if p.endswith("/")]


async def test_the_document_is_served_to_anyone(aiohttp_client: ClientFactory) -> None:
    client = await memory_client(aiohttp_client)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "junk"}):
        for path in (DOCUMENT_PATH, DOCUMENT_PATH + "/"):
            response = await client.get(path, headers=headers)
            assert response.status == 200, (path, headers)
            assert response.content_type == "application/json"
            assert await response.json() == document()
    head = await client.head(DOCUMENT_PATH)
    assert head.status == 200
    assert await head.read() == b""


def test_every_api_error_is_a_json_message() -> None:
    for method, path, operation in operations():
        for status, response in operation["responses"].items():
            if int(status) < 400 or not path.startswith("/api/"):
                continue
            if path == "/api/health":
                continue  # its 503 is the health answer: {database, version, message}
            if method == "HEAD":
                assert "content" not in response, (method, path, status)
                continue
            assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (
                method,
                path,
                status,
            )
    error = document()["components"]["schemas"]["Error"]
    assert error["required"] == ["message"]
    assert error["properties"] == {"message": {"type": "string"}}
    assert error["additionalProperties"] is False


def _request(method: str, path: str) -> tuple[str, str, dict[str, Any]]:
    """A well-formed request for a documented operation (a key-shaped key)."""
    url = re.sub(r"\{[^}]*\}", "k3y", path)
    body = {"json": {"dashboard": {"title": "t"}}} if method == "POST" else {}
    return method, url, body


def security_of(operation: dict[str, Any]) -> str:
    security = operation["security"]
    if security == []:
        return "none"
    if security == [{BEARER: []}]:
        return "token"
    assert security == [{}, {BEARER: []}], security
    return "optional"


@each_operation
async def test_each_operations_security_is_what_the_server_enforces(
    aiohttp_client: ClientFactory, method: str, path: str, operation: dict[str, Any]
) -> None:
    client = await memory_client(aiohttp_client)  # a private deployment: defaults
    method, url, body = _request(method, path)
    anonymous = await client.request(method, url, **body)
    bad_token = await client.request(
        method, url, headers={"Authorization": "Bearer not-a-token"}, **body
    )
    documented = operation["responses"]
    kind = security_of(operation)
    if kind == "token":
        assert anonymous.status == 401
        assert bad_token.status == 401
    elif kind == "optional":
        assert anonymous.status != 401
        assert bad_token.status == 401
    else:
        assert anonymous.status != 401
        # The Authorization header is read (and a bad one refused) wherever 401 is documented.
        assert (bad_token.status == 401) == ("401" in documented)
    for response in (anonymous, bad_token):
        assert_documented(operation, response)


def assert_documented(operation: dict[str, Any], response: ClientResponse) -> None:
    """``response``'s status is one ``operation`` documents, with the media type it gives."""
    documented = operation["responses"].get(str(response.status))
    assert documented is not None, (operation["operationId"], response.status)
    assert list(documented.get("content", {})) in ([], [response.content_type]), (
        operation["operationId"],
        response.status,
        response.content_type,
    )


@each_operation
async def test_with_storage_down_each_operation_answers_as_documented(
    aiohttp_client: ClientFactory, method: str, path: str, operation: dict[str, Any]
) -> None:
    app = memory_app()
    client = await serve(aiohttp_client, app)
    await app[STORE].aclose()  # every store call now raises StorageUnavailable
    method, url, body = _request(method, path)
    response = await client.request(method, url, headers=auth("admin"), **body)
    assert_documented(operation, response)
    # Whatever reads storage says so: the documented 503, never a 500 or a 404.
    if response.status >= 500:
        assert response.status == 503
