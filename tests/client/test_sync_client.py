"""ObshellClient against a real agent app: typed results, typed errors, encrypted requests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pyobshell.wire.agent import AgentStatus, ServerState
from pyobshell.client import ObshellApiError, ObshellClient, ObshellConnectionError
from pyobshell.security.agent_token import AgentToken
from tests.client.conftest import AGENT_PASSWORD, BASE, ROOT_PASSWORD, Seen


def client(http: TestClient, **credentials: str) -> ObshellClient:
    return ObshellClient(BASE, http_client=http, **(credentials or {"password": ROOT_PASSWORD}))


def test_public_routes_are_typed(http: TestClient, key_pair) -> None:
    agent = client(http)
    assert agent.status().state is ServerState.RUNNING
    assert agent.info().supportedAuth == ["v2"]
    assert agent.secret().public_key == key_pair.public_key_b64()
    assert agent.time().endswith("Z") or "+" in agent.time()


def test_agents_status_with_the_root_password(http: TestClient) -> None:
    statuses = client(http).agents_status()
    assert isinstance(statuses["127.0.0.1:2886"], AgentStatus)


def test_wrong_password_raises_a_typed_error(http: TestClient) -> None:
    with pytest.raises(ObshellApiError) as info:
        client(http, password="wrong").agents_status()
    err = info.value
    assert (err.status, err.err_code) == (401, "Security.Authentication.IncorrectOceanbasePassword")
    assert err.message == "Unauthorized: incorrect root@sys password"
    assert len(err.trace_id) == 16


def test_public_key_is_fetched_once(http: TestClient, seen: Seen) -> None:
    agent = client(http)
    for _ in range(3):
        agent.agents_status()
    assert seen.secret_fetches == 1


def test_generic_request_encrypts_body_and_binds_query(http: TestClient, seen: Seen) -> None:
    agent = client(http)
    data = agent.request("POST", "/api/v1/clienttest/notes/n%201", {"text": "héllo", "tags": ["a"]}, {"verbose": "true"})
    assert data == {"name": "n 1", "count": 1}
    assert seen.notes == [{"name": "n 1", "text": "héllo", "tags": ["a"], "verbose": True}]
    assert agent.request("GET", "/api/v1/clienttest/notes") == {"contents": seen.notes}


def test_validation_errors_come_back_typed(http: TestClient) -> None:
    with pytest.raises(ObshellApiError) as info:
        client(http).request("POST", "/api/v1/clienttest/notes/x", {"tags": "not-a-list"})
    assert info.value.status == 400 and info.value.err_code == "Common.BindJsonFailed"
    assert {e["field"] for e in info.value.sub_errors} == {"text", "tags"}


def test_agent_credentials_reach_rpc_routes(http: TestClient, token: AgentToken) -> None:
    assert client(http, token=token.value).agent_identity().port == 2886
    assert client(http, agent_password=AGENT_PASSWORD).agent_identity().ip == "127.0.0.1"
    with pytest.raises(ObshellApiError) as info:
        client(http).agent_identity()  # the root password is not an agent credential
    assert info.value.status == 401


def test_upload_streams_the_file_with_its_digest(http: TestClient, tmp_path: Path, seen: Seen) -> None:
    package = tmp_path / "pkg.rpm"
    package.write_bytes(bytes(range(256)) * 5000)
    data = client(http).upload("/api/v1/clienttest/package", package)
    assert data["size"] == package.stat().st_size and seen.uploads == [("pkg.rpm", package.stat().st_size)]


def test_upload_with_a_wrong_digest_is_refused(http: TestClient, tmp_path: Path, seen: Seen) -> None:
    from pyobshell.client import wire

    package = tmp_path / "pkg.rpm"
    package.write_bytes(b"real content")
    agent = client(http)
    url = wire.target_url(BASE, "/api/v1/clienttest/package", None)
    headers = wire.upload_headers(agent.builder(), agent._credentials, url, "0" * 64)
    response = http.post(str(url), headers=headers, files={"file": ("pkg.rpm", package.read_bytes())})
    assert response.status_code == 401 and seen.uploads == []


def test_upload_without_credentials_is_refused(http: TestClient, seen: Seen) -> None:
    assert http.post("/api/v1/clienttest/package", files={"file": ("p", b"x")}).status_code == 400
    assert seen.uploads == []


def test_a_reply_that_is_not_an_envelope(http: TestClient) -> None:
    with pytest.raises(ObshellApiError) as info:
        client(http).request("GET", "/docs", auth=False)
    assert info.value.err_code == "Client.InvalidResponse"


def test_unreachable_agent_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with ObshellClient(f"127.0.0.1:{port}", password="x", timeout=2) as agent:
            with pytest.raises(ObshellConnectionError):
                agent.status()


def test_exactly_one_credential() -> None:
    with pytest.raises(ValueError):
        ObshellClient("127.0.0.1", password="a", token="b")
    with pytest.raises(ValueError):
        ObshellClient("127.0.0.1")


def test_base_url_forms() -> None:
    assert ObshellClient("10.0.0.1", password="").base_url == "http://10.0.0.1:2886"
    assert ObshellClient("10.0.0.1:3000", password="").base_url == "http://10.0.0.1:3000"
    assert ObshellClient("https://agent.example/", password="").base_url == "https://agent.example"
