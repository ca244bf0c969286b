"""Requests built exactly as obshell's web UI and Python SDK v2 build them are accepted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import AGENT_PASSWORD, ROOT_PASSWORD, Effects

COUNTER = "/api/v1/authtest/counter"


def test_web_ui_request_is_accepted(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.web_ui(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, {"by": 3, "label": "ui"})
    response = client.post(COUNTER, headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"count": 3, "kind": "root_password"}
    assert effects.bodies == [{"by": 3, "label": "ui"}]


def test_web_ui_get_without_keys_and_with_a_query(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    uri = f"{COUNTER}?step=4"
    headers, _ = obshell_wire.web_ui(key_pair.public_key, clock(), uri, ROOT_PASSWORD)
    assert client.get(uri, headers=headers).json()["data"] == {"count": 4}


def test_sdk_v2_request_is_accepted(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, {"by": 2, "label": "sdk"})
    response = client.post(COUNTER, headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["count"] == 2 and effects.bodies == [{"by": 2, "label": "sdk"}]


def test_sdk_v2_agent_password_header_is_accepted(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, AGENT_PASSWORD, {"by": 1, "label": "a"}, agent=True)
    assert client.post(COUNTER, headers=headers, content=body).json()["data"]["kind"] == "agent_password"


def test_full_size_chunks_are_accepted_too(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    header = {"Auth": ROOT_PASSWORD, "Ts": str(int(clock()) + 10), "Uri": COUNTER}
    headers = obshell_wire.custom(key_pair.public_key, header, chunk=117)  # Go agents: k - 11
    assert client.get(COUNTER, headers=headers).json()["data"] == {"count": 1}
