"""The OpenAPI document describes capture as the server does it: the create answer with
``capture`` matches ``Created``, the capture options match ``CaptureOptions``, and what the
document refuses the server refuses."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from snapshot_server.webapp.openapi import document
from tests.api.conftest import auth
from tests.capture.apps import dashboard
from tests.support import Client


def validator(name: str) -> Draft202012Validator:
    """The document's schema ``name``, its references resolved within the document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    return Draft202012Validator(schema)


async def test_the_capture_answer_is_documented(
    capture_client: Client, window: tuple[int, int]
) -> None:
    options = {"from": window[0], "to": str(window[1]), "maxDataPoints": 100}
    validator("CaptureOptions").validate(options)
    body = {"dashboard": dashboard(), "capture": options}
    validator("CreateRequest").validate(body)
    response = await capture_client.post("/api/snapshots", json=body, headers=auth("editor"))
    answer = await response.json()
    assert "capture" in answer
    validator("Created").validate(answer)
    without = {k: v for k, v in answer.items() if k != "capture"}
    validator("Created").validate(without)  # the five fields alone: Grafana's answer
    with pytest.raises(ValidationError):
        validator("Created").validate({**answer, "capture": {"panels": 1}})


@pytest.mark.parametrize(
    "options", [{"form": "now"}, {"maxDataPoints": 0}, {"variables": {"a": 1}}, {"from": True}]
)
async def test_what_the_document_refuses_the_server_refuses(
    capture_client: Client, options: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        validator("CaptureOptions").validate(options)
    body = {"dashboard": dashboard(), "capture": options}
    response = await capture_client.post("/api/snapshots", json=body, headers=auth("editor"))
    assert response.status == 400
