"""Every operation of the OpenAPI document, fuzzed on a live server (``live_server``: SQLite and
Redis) with an Editor token: schemathesis' examples, coverage cases and ``EXAMPLES`` generated
cases each, valid and invalid. Every answer must be no 5xx, and have a status, content type and
body the document gives. A failure prints the curl command that reproduces it: fix the server
or the document, never the checks."""

from __future__ import annotations

from tests.fuzz.live import CHECKS, SCHEMA, Case, send


@SCHEMA.parametrize()
def test_every_answer_is_one_the_document_gives(case: Case, live_server: str) -> None:
    response = send(case, live_server)
    case.validate_response(response, checks=CHECKS)
