"""The decrypted body reaches FastAPI's normal parsing and validation; the credential check
runs off the event loop."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import ROOT_PASSWORD, Effects

COUNTER = "/api/v1/authtest/counter"


def send(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, body: dict | None):
    headers, raw = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, body)
    return client.post(COUNTER, headers=headers, content=raw)


def test_wrong_field_type_is_a_validation_error_naming_the_field(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    response = send(client, key_pair, clock, {"by": "many", "label": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["errCode"] == "Common.BindJsonFailed" and error["subErrors"][0]["field"] == "by"
    assert effects.count == 0


def test_no_body_counts_as_an_empty_object(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    response = send(client, key_pair, clock, None)
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["error"]["subErrors"]} == {"by", "label"}
    assert effects.count == 0


def test_unicode_body_round_trips(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    assert send(client, key_pair, clock, {"by": 5, "label": "zône ✓"}).status_code == 200
    assert effects.bodies == [{"by": 5, "label": "zône ✓"}]


def test_credential_check_runs_in_a_worker_thread(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    assert send(client, key_pair, clock, {"by": 1, "label": "t"}).status_code == 200
    assert effects.root_check_threads and effects.handler_threads
    assert not effects.root_check_threads & effects.handler_threads  # never on the event loop's thread
