"""What the fuzz tests share: the schemathesis schema built from the OpenAPI document, its
configuration (seed, example counts, the Editor token), the checks, and how a case is sent to
the live server.

Bounded and reproducible for CI: ``SNAPSHOT_FUZZ_EXAMPLES`` generated cases per operation
(default 40, on top of schemathesis' examples and coverage cases) and ``SNAPSHOT_FUZZ_SCENARIOS``
snapshot lifecycles along the document's links (default 30), derandomized from the fixed seed
``SNAPSHOT_FUZZ_SEED``. The README gives the longer run by hand.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from snapshot_server.webapp.openapi import document
from tests.processes import EDITOR_TOKEN

Case = schemathesis.Case[Any]

EXAMPLES = int(os.environ.get("SNAPSHOT_FUZZ_EXAMPLES", "40"))
SCENARIOS = int(os.environ.get("SNAPSHOT_FUZZ_SCENARIOS", "30"))
SEED = int(os.environ.get("SNAPSHOT_FUZZ_SEED", "1105"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
REQUEST_TIMEOUT = 30.0  # seconds: a request that takes longer is a hang, and fails the run
BACKENDS = ("sqlite", "redis")

AUTHORIZATION = {"Authorization": f"Bearer {EDITOR_TOKEN}"}

SENT: Counter[str] = Counter()
"""Requests sent, by base URL (one server each): printed when the server stops."""


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": AUTHORIZATION,
            "request-timeout": REQUEST_TIMEOUT,
            "generation": {
                "mode": "all",  # valid requests and invalid ones
                "max-examples": EXAMPLES,
                "deterministic": True,
                # No example database: a run is reproduced from its seed alone. (Hypothesis
                # still keeps a cache in .hypothesis/, which .gitignore lists.)
                "database": "none",
            },
        }
    )


SCHEMA = schemathesis.openapi.from_dict(document(), config=fuzz_config())
"""Built from the document in this checkout; the ``live_server`` fixture proves the server
serves exactly this document."""


def send(case: Case, base_url: str) -> requests.Response:
    """Send ``case`` to the server at ``base_url`` on a fresh connection.

    Plain requests rather than ``case.call()``: schemathesis' own transport counts the pools of
    urllib3's PoolManager, which urllib3-future (installed with grafana-client's niquests) does
    not have. A fresh connection per case: a connection the server closes after an error answer
    (as it must after malformed input) never fails the next case.
    """
    SENT[base_url] += 1
    kwargs = case.as_transport_kwargs(base_url=base_url)
    return requests.request(**kwargs, timeout=REQUEST_TIMEOUT)


def server_toml(backend: str, directory: Path, request: pytest.FixtureRequest) -> str:
    """The server's config but [server] and the tokens (``ServerProcess`` adds those).

    SQLite runs a private deployment (a token needed to create); Redis runs in public_mode
    (anonymous creates; the abuse limits on, as they are by default on a public server).
    """
    if backend == "sqlite":
        return f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{directory}/s.db"\n'
    url = request.getfixturevalue("redis_server_url")
    # grafana_external_compat (on by default in public_mode) answers an unknown deleteKey with
    # the documented 500 Grafana needs; not_a_server_error counts every 5xx, so it is off
    # here (tests/api/test_delete.py covers that answer).
    return (
        f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{url}"\n'
        f'key_prefix = "fuzz:{directory.name}:"\n\n'
        "[snapshots]\npublic_mode = true\ngrafana_external_compat = false\n"
    )
