"""Every /rpc/v1 route, found from the app itself, demands agent credentials."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pyobshell.api.route_table import flat_routes
from pyobshell.security.agent_token import AgentToken
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.auth_error import AuthFailure
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import AGENT_PASSWORD, ROOT_PASSWORD, Effects, assert_refused


def rpc_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) of every /rpc/v1 route, path parameters filled with 1."""
    found = []
    for route in flat_routes(app):
        path = getattr(route, "path", "")
        if path.startswith("/rpc/v1"):
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            found += [(method, concrete) for method in sorted(route.methods or ())]
    return found


def test_the_app_serves_rpc_routes(app: FastAPI) -> None:
    routes = rpc_routes(app)
    assert ("GET", "/rpc/v1/agent/info") in routes
    assert ("POST", "/rpc/v1/authtest/poke") in routes  # test-only, declared PUBLIC


def test_every_rpc_route_refuses_a_call_without_credentials(client: TestClient, app: FastAPI, effects: Effects) -> None:
    for method, path in rpc_routes(app):
        assert_refused(client.request(method, path), AuthFailure.MISSING_HEADER.value)
    assert effects.count == 0


def test_every_rpc_route_refuses_the_root_password(client: TestClient, app: FastAPI, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    builder = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock)
    for method, path in rpc_routes(app):
        built = builder.build(path, password=ROOT_PASSWORD)
        assert_refused(client.request(method, path, headers=built.headers), AuthFailure.NEEDS_AGENT_PASSWORD.value)
    assert effects.count == 0


@pytest.mark.parametrize("credential", ["token", "agent_password"])
def test_agent_credentials_open_rpc_routes(
    client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, agent_token: AgentToken, credential: str
) -> None:
    builder = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock)
    if credential == "token":
        built = builder.build("/rpc/v1/agent/info", token=agent_token.value)
    else:
        built = builder.build("/rpc/v1/agent/info", password=AGENT_PASSWORD, agent_header=True)
    body = client.get("/rpc/v1/agent/info", headers=built.headers).json()
    assert body["data"] == {"ip": "127.0.0.1", "port": 2886, "identity": "SINGLE"}


def test_a_wrong_token_is_refused(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    built = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build("/rpc/v1/agent/info", token=AgentToken.generate().value)
    assert_refused(client.get("/rpc/v1/agent/info", headers=built.headers), AuthFailure.WRONG_TOKEN.value)
