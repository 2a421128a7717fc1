"""GET /metrics: Prometheus text, no token needed (a bad one is ignored), route templates only."""

from __future__ import annotations

from tests.api.conftest import Client, create


def sample(text: str, name: str) -> float:
    """The value of the sample line starting with ``name`` (labels included)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


async def test_metrics_count_requests_by_route_template(client: Client) -> None:
    made = await create(client)
    await client.get(f"/api/snapshots/{made['key']}")
    await client.get(f"/api/snapshots/{made['key']}")
    await client.get("/api/snapshots/unknown")
    await client.get("/no/such/page")
    response = await client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert made["key"] not in text  # keys are secrets: never a label
    assert (
        sample(
            text, 'snapshot_http_requests_total{method="POST",route="/api/snapshots",status="200"}'
        )
        == 1
    )
    assert (
        sample(
            text,
            'snapshot_http_requests_total{method="GET",route="/api/snapshots/{key}",status="200"}',
        )
        == 2
    )
    assert (
        sample(
            text,
            'snapshot_http_requests_total{method="GET",route="/api/snapshots/{key}",status="404"}',
        )
        == 1
    )
    assert (
        sample(text, 'snapshot_http_requests_total{method="GET",route="unmatched",status="404"}')
        == 1
    )
    assert (
        sample(
            text,
            'snapshot_http_request_duration_seconds_count{method="GET",'
            'route="/api/snapshots/{key}"}',
        )
        == 3
    )
    assert sample(text, "snapshot_expired_removed_total") == 0
