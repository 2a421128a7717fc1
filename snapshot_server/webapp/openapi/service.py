"""The OpenAPI operations of the service routes: Grafana's shared options, health, this
document and the metrics."""

from __future__ import annotations

from .components import NEEDS_TOKEN, NO_TOKEN, TOKEN, Json, json_response, ref, text_response

SHARED_OPTIONS: Json = {
    "operationId": "sharedOptions",
    "summary": "What Grafana's share dialog asks a snapshot server",
    "description": "In public_mode no token is needed.",
    "security": TOKEN,
    "responses": {
        "200": json_response("The options", ref("SharedOptions")),
        "401": NEEDS_TOKEN,
    },
}

HEALTH: Json = {
    "operationId": "health",
    "summary": "Whether storage answers",
    "description": "Ignores the Authorization header.",
    "security": NO_TOKEN,
    "responses": {
        "200": json_response("Storage answers", ref("Health")),
        "503": json_response("Storage unreachable", ref("HealthFailing")),
    },
}

OPENAPI: Json = {
    "operationId": "openapi",
    "summary": "This document",
    "description": "Ignores the Authorization header.",
    "security": NO_TOKEN,
    "responses": {"200": json_response("OpenAPI 3.1", {"type": "object"})},
}

METRICS: Json = {
    "operationId": "metrics",
    "summary": "Prometheus metrics (text exposition format)",
    "description": "Ignores the Authorization header. Outside /api/: meant for a scraper, "
    "documented because it is part of what the server answers. With serve --workers N "
    "each worker counts its own.",
    "security": NO_TOKEN,
    "responses": {"200": text_response("The metrics", "text/plain")},
}
