"""Repeated wrong passwords lock the client out; the lock ends after its time."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from tests.security_api import obshell_wire
from tests.security_api.conftest import LOCKOUT, ROOT_PASSWORD, Effects, FakeClock, assert_unauthorized

COUNTER = "/api/v1/authtest/counter"


def get(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, password: str):
    headers, _ = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, password)
    return client.get(COUNTER, headers=headers)


def test_locked_out_client_is_let_in_again_after_the_lock_time(
    client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects
) -> None:
    for _ in range(LOCKOUT.max_failures):
        assert_unauthorized(get(client, key_pair, clock, "wrong"))
    checks_before = effects.root_checks

    assert_unauthorized(get(client, key_pair, clock, ROOT_PASSWORD))  # right password, still locked
    assert effects.root_checks == checks_before  # refused before any password check
    clock.advance(LOCKOUT.lock_seconds - 1)
    assert_unauthorized(get(client, key_pair, clock, ROOT_PASSWORD))
    assert effects.count == 0

    clock.advance(2)
    response = get(client, key_pair, clock, ROOT_PASSWORD)
    assert response.status_code == 200, response.text
    assert effects.count == 1


def test_public_routes_stay_open_to_a_locked_out_client(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    for _ in range(LOCKOUT.max_failures):
        assert_unauthorized(get(client, key_pair, clock, "wrong"))
    assert client.get("/api/v1/secret").status_code == 200
