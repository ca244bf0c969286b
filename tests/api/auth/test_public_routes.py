"""Public routes need nothing, but a header that is sent must verify (as in obshell)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.auth_error import AuthFailure
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import ROOT_PASSWORD, Effects, assert_refused

PUBLIC = [("GET", "/api/v1/status"), ("POST", "/api/v1/status"), ("GET", "/api/v1/info"), ("GET", "/api/v1/secret"), ("GET", "/api/v1/time")]


@pytest.mark.parametrize("method,path", PUBLIC)
def test_public_route_without_a_header(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 200 and response.json()["successful"] is True


@pytest.mark.parametrize("method,path", PUBLIC)
def test_public_route_with_a_bad_header_is_refused(client: TestClient, method: str, path: str) -> None:
    assert_refused(client.request(method, path, headers={"X-OCS-Header": "AAAA"}), AuthFailure.HEADER_UNDECRYPTABLE.value)


def test_public_route_with_a_valid_header_knows_the_caller(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    headers, _ = obshell_wire.web_ui(key_pair.public_key, clock(), "/api/v1/authtest/open", ROOT_PASSWORD)
    assert client.get("/api/v1/authtest/open", headers=headers).json()["data"] == {"caller": "root_password"}
    assert client.get("/api/v1/authtest/open").json()["data"] == {"caller": None}


def test_public_route_with_a_wrong_password_is_refused(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, _ = obshell_wire.web_ui(key_pair.public_key, clock(), "/api/v1/authtest/open", "wrong")
    assert_refused(client.get("/api/v1/authtest/open", headers=headers), AuthFailure.WRONG_ROOT_PASSWORD.value)
    assert effects.count == 0


def test_unknown_routes_still_answer_404(client: TestClient) -> None:
    assert client.get("/api/v1/no/such/route").status_code == 404
    assert client.get("/rpc/v1/no/such/route").status_code == 404
