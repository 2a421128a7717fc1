"""The Prometheus client against a real Prometheus and against stubs that misbehave: every
failure is the ``SnapshotError`` (and so the HTTP status) the capture contract promises."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from snapshot_server.capture.model import DatasourceTarget, PlannedQuery
from snapshot_server.capture.prometheus import ByteBudget, PrometheusClient, auth_headers
from snapshot_server.capture.settings import DatasourceSettings
from snapshot_server.errors import BadGateway, GatewayTimeout, InvalidSnapshot, PayloadTooLarge
from tests.capture import stubs
from tests.capture.prometheus_server import PrometheusServer
from tests.support import free_port


def planned(
    expr: str, start_s: int, end_s: int, *, step_s: int = 15, instant: bool = False
) -> PlannedQuery:
    return PlannedQuery(
        panel_id=7,
        panel_title="Requests",
        ref_id="B",
        datasource=DatasourceTarget("prom", 15_000),
        expr=expr,
        legend_format="",
        instant=instant,
        start_ms=start_s * 1000,
        end_ms=end_s * 1000,
        step_ms=step_s * 1000,
        interval_ms=step_s * 1000,
    )


def datasource(url: str, **settings: object) -> DatasourceSettings:
    return DatasourceSettings(name="prom", url=url, **settings)  # type: ignore[arg-type]


@pytest.fixture
async def client() -> AsyncIterator[PrometheusClient]:
    made = PrometheusClient(timeout=0.5)
    try:
        yield made
    finally:
        await made.aclose()


async def test_range_query_returns_prometheus_data(
    client: PrometheusClient, prometheus: PrometheusServer
) -> None:
    assert prometheus.data is not None
    end = prometheus.data.last_s - 600
    query = planned("rate(capture_requests_total[5m])", end - 60, end)
    budget = ByteBudget(0)
    data = await client.query(datasource(prometheus.url), {}, query, budget)
    assert data["resultType"] == "matrix"
    by_code = {s["metric"]["code"]: s["values"] for s in data["result"]}
    assert by_code == {
        "200": [[t, "2"] for t in range(end - 60, end + 1, 15)],
        "500": [[t, "0.5"] for t in range(end - 60, end + 1, 15)],
    }
    assert budget.read > 0
    assert budget.left is None


async def test_instant_query_is_evaluated_at_the_end(
    client: PrometheusClient, prometheus: PrometheusServer
) -> None:
    assert prometheus.data is not None
    end = prometheus.data.last_s - 600
    query = planned("capture_singleton", end - 3600, end, instant=True)
    data = await client.query(datasource(prometheus.url), {}, query, ByteBudget(0))
    assert data == {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "capture_singleton"}, "value": [end, "7"]}],
    }


async def test_a_promql_error_names_the_panel_and_carries_prometheus_message(
    client: PrometheusClient, prometheus: PrometheusServer
) -> None:
    assert prometheus.data is not None
    end = prometheus.data.last_s
    with pytest.raises(InvalidSnapshot) as error:
        await client.query(
            datasource(prometheus.url), {}, planned("rate(up[5m]", end - 60, end), ByteBudget(0)
        )
    message = error.value.message
    assert message.startswith("Panel 7 ('Requests'), query B: Prometheus rejected it: ")
    assert "parse error" in message
    assert "unclosed left parenthesis" in message


async def test_a_closed_port_is_a_bad_gateway(client: PrometheusClient) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BadGateway) as error:
        await client.query(datasource(url), {}, planned("up", 0, 60), ByteBudget(0))
    assert error.value.status == 502
    assert error.value.message.startswith(
        f"Prometheus datasource 'prom' ({url}) could not be reached"
    )


async def test_a_redirect_is_not_followed(
    client: PrometheusClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.redirect_to_trap)
    headers = {"Authorization": "Bearer secret"}
    with pytest.raises(BadGateway) as error:
        await client.query(datasource(stub.url), headers, planned("up", 0, 60), ByteBudget(0))
    assert "answered a redirect (HTTP 307), which is not followed" in error.value.message
    assert [path for path, _, _ in stub.received] == ["/api/v1/query_range"]


async def test_a_slow_datasource_is_a_gateway_timeout(
    client: PrometheusClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.never_answer)
    try:
        with pytest.raises(GatewayTimeout) as error:
            await client.query(datasource(stub.url), {}, planned("up", 0, 60), ByteBudget(0))
    finally:
        stub.release.set()
    assert error.value.status == 504
    assert "did not answer within 0.5 s" in error.value.message


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (stubs.html_page, "did not answer like a Prometheus API (HTTP 200)"),
        (stubs.unauthorized, "refused the credentials (HTTP 401)"),
    ],
)
async def test_an_answer_that_is_not_prometheus_is_a_bad_gateway(
    client: PrometheusClient,
    aiohttp_server: stubs.ServerFactory,
    answer: stubs.Answer,
    message: str,
) -> None:
    stub = await stubs.start_stub(aiohttp_server, answer)
    with pytest.raises(BadGateway) as error:
        await client.query(datasource(stub.url), {}, planned("up", 0, 60), ByteBudget(0))
    assert message in error.value.message


async def test_answers_are_read_no_further_than_the_byte_budget(
    client: PrometheusClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.big_matrix)
    ds = datasource(stub.url)
    data = await client.query(ds, {}, planned("up", 0, 60), ByteBudget(0))
    assert len(data["result"][0]["values"]) == 5000
    budget = ByteBudget(20_000)
    with pytest.raises(PayloadTooLarge) as error:
        await client.query(ds, {}, planned("up", 0, 60), budget)
    assert error.value.message == (
        "Prometheus answers exceed 20000 bytes for this snapshot (capture.max_response_bytes)"
    )
    assert budget.read < 20_000 + 64 * 1024  # stopped at the chunk that crossed the cap


async def test_credentials_and_headers_are_sent(
    client: PrometheusClient, aiohttp_server: stubs.ServerFactory, tmp_path: Path
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.redirect_to_trap)
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    bearer = datasource(stub.url, bearer_token_file=str(token), headers=(("X-Scope-OrgID", "t1"),))
    assert auth_headers(bearer) == {"X-Scope-OrgID": "t1", "Authorization": "Bearer s3cret"}
    token.write_text("rotated")
    assert auth_headers(bearer)["Authorization"] == "Bearer rotated"  # read on each capture
    password = tmp_path / "pw"
    password.write_text("pa:ss")
    basic = datasource(stub.url, basic_auth_user="u", basic_auth_password_file=str(password))
    expected = base64.b64encode(b"u:pa:ss").decode()
    assert auth_headers(basic) == {"Authorization": f"Basic {expected}"}

    trap = datasource(f"{stub.url}/trap")  # /trap/api/v1/query_range: not the trap itself
    with pytest.raises(BadGateway):
        await client.query(
            trap, auth_headers(bearer), planned("up", 0, 60, step_s=30), ByteBudget(0)
        )
    ((path, headers, form),) = stub.received
    assert path == "/trap/api/v1/query_range"
    assert headers["Authorization"] == "Bearer rotated"
    assert headers["X-Scope-OrgID"] == "t1"
    assert form == {"query": "up", "start": "0", "end": "60", "step": "30"}


def test_an_unreadable_secret_file_names_the_setting(tmp_path: Path) -> None:
    ds = datasource("http://127.0.0.1:1", bearer_token_file=str(tmp_path / "missing"))
    with pytest.raises(BadGateway) as error:
        auth_headers(ds)
    assert error.value.message.startswith(
        "Datasource 'prom': cannot read its bearer_token_file (No such file or directory)"
    )


def _error(kind: str, message: str) -> dict[str, str]:
    return {"status": "error", "errorType": kind, "error": message}


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        # what Prometheus answers for a query that fails while running
        (
            422,
            _error("execution", "many-to-many matching"),
            InvalidSnapshot,
            "Panel 7 ('Requests'), query B: Prometheus rejected it: many-to-many matching",
        ),
        # its own query timeout (--query.timeout)
        (
            503,
            _error("timeout", "query timed out"),
            GatewayTimeout,
            "timed out running the query: query timed out",
        ),
        (500, _error("internal", "boom"), BadGateway, "failed to run a query (HTTP 500): boom"),
        (200, {"status": "success"}, BadGateway, "did not answer like a Prometheus API (HTTP 200)"),
        (200, [1, 2], BadGateway, "did not answer like a Prometheus API (HTTP 200)"),
        (404, {"status": "success", "data": {"result": []}}, BadGateway, "did not answer like"),
    ],
)
async def test_prometheus_error_answers(
    client: PrometheusClient,
    aiohttp_server: stubs.ServerFactory,
    status: int,
    body: object,
    error: type[Exception],
    message: str,
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.answering(status, body))
    with pytest.raises(error) as raised:
        await client.query(datasource(stub.url), {}, planned("up", 0, 60), ByteBudget(0))
    assert message in str(raised.value)
