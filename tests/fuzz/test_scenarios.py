"""Snapshot lifecycles along the document's links, on a live server (``live_server``: SQLite
and Redis) with an Editor token: ``SCENARIOS`` generated valid creates, and from each one that
succeeds every link the document gives (view, revalidate with its ETag, the page, the listing by
name, then both deletes, then the view again). The answers for snapshots that exist (200, 304),
which random keys never reach, are held to the document like every other. Seeded with
``SEED``.

Only the create is generated: what follows depends on the server's answers, which Hypothesis
must not draw from (a live server's state is not replayable), so it is walked, not generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import hypothesis
import requests

from tests.fuzz.live import AUTHORIZATION, CHECKS, SCENARIOS, SCHEMA, SEED, Case, send

CREATE = SCHEMA["/api/snapshots"]["POST"]
DEPTH = 2  # links of links (view -> revalidate), no further: a 200 links to itself


def test_snapshot_lifecycles_answer_as_the_document_says(live_server: str) -> None:
    scenarios = count()

    @hypothesis.seed(SEED)  # reproducible: the same creates on every run with this seed
    @hypothesis.settings(
        max_examples=SCENARIOS,
        database=None,
        deadline=None,
        # No shrinking: a failure is reported as found (replaying it against a server whose
        # state has moved on would not reproduce it).
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=CREATE.as_strategy(headers=AUTHORIZATION))
    def lifecycle(case: Case) -> None:
        created = checked(case, live_server)
        if created.status_code == 200:
            # Deletes last (the other links need the snapshot), each delete route first in turn.
            follow(case, created, live_server, deletes_first_by_key=next(scenarios) % 2 == 0)

    lifecycle()


def checked(case: Case, base_url: str) -> requests.Response:
    response = send(case, base_url)
    case.validate_response(response, checks=CHECKS)
    return response


def follow(
    request: Case, response: requests.Response, base_url: str, *, deletes_first_by_key: bool
) -> None:
    links = list(response_links(request, response.status_code))
    reads = [link for link in links if not deletes(link)]
    removals = sorted((link for link in links if deletes(link)), key=lambda link: link[0])
    if not deletes_first_by_key:
        removals.reverse()
    for link in reads:
        walk(link, request, response, base_url, DEPTH)
    for link in removals:
        walk(link, request, response, base_url, 1)  # the second one: 404
    for link in reads:
        walk(link, request, response, base_url, 1)  # gone: 404 (the listing: without it)


def response_links(request: Case, status: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, link)`` of the links the document gives for ``status`` of ``request``'s
    operation."""
    responses = request.operation.definition.raw["responses"]
    yield from responses.get(str(status), {}).get("links", {}).items()


def deletes(link: tuple[str, dict[str, Any]]) -> bool:
    operation = SCHEMA.find_operation_by_id(link[1]["operationId"])
    return operation.method == "delete" or "delete" in link[1]["operationId"].lower()


def walk(
    link: tuple[str, dict[str, Any]],
    request: Case,
    response: requests.Response,
    base_url: str,
    depth: int,
) -> None:
    """Call the operation ``link`` names with the values it takes from ``request`` and
    ``response``, check the answer, and follow its own links while ``depth`` lasts."""
    operation = SCHEMA.find_operation_by_id(link[1]["operationId"])
    locations = {p["name"]: p["in"] for p in operation.definition.raw.get("parameters", [])}
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": dict(AUTHORIZATION)}
    for name, expression in link[1]["parameters"].items():
        value = evaluate(expression, request, response)
        if value is not None:
            place, _, bare = name.rpartition(".")
            values[place or locations[bare]][bare] = value
    case = operation.Case(
        path_parameters=values["path"], query=values["query"], headers=values["header"]
    )
    answer = checked(case, base_url)
    if depth > 1:
        for inner in response_links(case, answer.status_code):
            walk(inner, case, answer, base_url, depth - 1)


def evaluate(expression: str, request: Case, response: requests.Response) -> Any:
    """An OpenAPI runtime expression (the kinds the document uses), or ``None`` when the value
    is absent (an optional field the create left out)."""
    source, _, pointer = expression.partition("#/")
    if source == "$response.body":
        return response.json().get(pointer)
    if source == "$request.body":
        return request.body.get(pointer) if isinstance(request.body, dict) else None
    if source.startswith("$request.path."):
        return request.path_parameters[source.removeprefix("$request.path.")]
    if source.startswith("$response.header."):
        return response.headers.get(source.removeprefix("$response.header."))
    raise AssertionError(f"the document uses a runtime expression this walk lacks: {expression}")
