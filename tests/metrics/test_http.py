"""``GET /metrics`` on an agent app: open by default, a bearer token when one is set (401 in
obshell's envelope otherwise), HTTP figures by route template, auth refusals by errCode and
lock-outs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pyobshell.api.app import create_app
from pyobshell.api.state import AgentState
from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.metrics import AgentMetrics, configured_token
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutPolicy
from tests.metrics.scrape import samples, value

ROOT_PASSWORD = "metrics-Test1"
TOKEN = "scrape-s3cret"
REQUESTS = "pyobshell_http_requests_total"
REFUSALS = "pyobshell_auth_refusals_total"


def agent_app(home: Path, key_pair: AgentKeyPair, token: str | None = None) -> tuple[TestClient, AgentMetrics]:
    metrics = AgentMetrics(token=token)
    security = AgentSecurity.create(key_pair, root_check=lambda candidate: candidate == ROOT_PASSWORD,
                                    lockout_policy=LockoutPolicy(max_failures=3, window=60, lock_seconds=120),
                                    on_lockout=metrics.locked_out)
    state = AgentState(ip="127.0.0.1", port=2886, home=home, public_key=key_pair.public_key_b64, security=security,
                       metrics=metrics)
    return TestClient(create_app(state), raise_server_exceptions=False), metrics


@pytest.fixture
def client(tmp_path: Path, key_pair: AgentKeyPair) -> Iterator[TestClient]:
    http, _ = agent_app(tmp_path, key_pair)
    with http:
        yield http


def scrape(http: TestClient, **headers: str) -> dict:
    answer = http.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


def test_open_by_default_and_outside_the_envelope(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "# TYPE pyobshell_http_requests_total counter" in answer.text
    assert not answer.text.startswith("{")  # Prometheus's text, not obshell's JSON envelope
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_with_a_token_a_scrape_without_it_is_401_in_the_envelope(tmp_path: Path, key_pair: AgentKeyPair,
                                                                 authorization: str | None) -> None:
    http, metrics = agent_app(tmp_path, key_pair, token=TOKEN)
    with http:
        answer = http.get("/metrics", headers={"Authorization": authorization} if authorization else {})
        assert answer.status_code == 401
        body = answer.json()
        assert (body["successful"], body["status"]) == (False, 401)
        assert body["error"]["errCode"] == "Security.Authentication.Metrics.IncorrectToken"
        assert TOKEN not in answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        found = scrape(http, Authorization=f"Bearer {TOKEN}")
    assert value(found, REFUSALS, err_code="Security.Authentication.Metrics.IncorrectToken") == 1
    assert value(found, REQUESTS, route="/metrics", method="GET", status="401") == 1


def test_the_token_is_read_from_the_environment() -> None:
    assert configured_token({}) is None and configured_token({"PYOBSHELL_METRICS_TOKEN": "  "}) is None
    assert configured_token({"PYOBSHELL_METRICS_TOKEN": TOKEN}) == TOKEN


def test_requests_are_labelled_by_route_template_never_by_raw_path(client: TestClient) -> None:
    for gid in ("11", "12", "13"):
        client.get(f"/api/v1/task/dag/{gid}")  # refused (no credential): still counted, by template
    client.get("/api/v1/status")
    client.delete("/api/v1/status")  # 405: the template of the path it tried
    client.get("/no/such/path/123")
    client.get("/console/style.css")
    found = scrape(client)
    assert value(found, REQUESTS, route="/api/v1/task/dag/{gid}", method="GET", status="400") == 3
    assert value(found, REQUESTS, route="/api/v1/status", method="GET", status="200") == 1
    assert value(found, REQUESTS, route="/api/v1/status", method="DELETE", status="405") == 1
    assert value(found, REQUESTS, route="unmatched", method="GET", status="404") == 1
    assert value(found, REQUESTS, route="/console/{path}", method="GET", status="200") == 1
    routes = {dict(labels)["route"] for (name, labels), _ in found.items() if name == REQUESTS}
    assert not any(route.endswith(("/11", "/12", "/13", "/123")) for route in routes), routes
    latency = "pyobshell_http_request_duration_seconds_count"
    assert value(found, latency, route="/api/v1/task/dag/{gid}", method="GET") == 3


def test_auth_refusals_are_counted_by_errcode_and_a_lockout_once(client: TestClient) -> None:
    client.get("/api/v1/task/dag/11")  # no header at all
    for attempt in range(4):  # three distinct wrong passwords lock the address; the fourth is refused locked
        api = ObshellClient("http://testserver", password=f"wrong-{attempt}", http_client=client)
        with pytest.raises(ObshellApiError):
            api.request("GET", "/api/v1/task/dag/11")
    found = scrape(client)
    assert value(found, REFUSALS, err_code="Request.Header.NotFound") == 1
    assert value(found, REFUSALS, err_code="Security.Authentication.IncorrectOceanbasePassword") == 3
    assert value(found, REFUSALS, err_code="Security.Authentication.LockedOut") == 1
    assert value(found, "pyobshell_auth_lockouts_total") == 1


def test_each_agent_has_its_own_registry(tmp_path: Path, key_pair: AgentKeyPair) -> None:
    first, _ = agent_app(tmp_path / "a", key_pair)
    second, _ = agent_app(tmp_path / "b", key_pair)
    with first, second:
        first.get("/api/v1/status")
        assert value(scrape(second), REQUESTS, route="/api/v1/status", method="GET", status="200") is None
        assert value(scrape(first), REQUESTS, route="/api/v1/status", method="GET", status="200") == 1
