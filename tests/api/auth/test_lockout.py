"""Repeated distinct wrong passwords lock the client out, visibly; the lock ends after its time."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.auth_error import AuthFailure
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import LOCKOUT, ROOT_PASSWORD, Effects, assert_refused

COUNTER = "/api/v1/authtest/counter"


def get(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, password: str):
    headers, _ = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, password)
    return client.get(COUNTER, headers=headers)


def test_locked_out_client_is_let_in_again_after_the_lock_time(
    client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects
) -> None:
    for n in range(LOCKOUT.max_failures):
        assert_refused(get(client, key_pair, clock, f"wrong-{n}"), AuthFailure.WRONG_ROOT_PASSWORD.value)
    checks_before = effects.root_checks

    locked = get(client, key_pair, clock, ROOT_PASSWORD)  # right password, still locked
    error = assert_refused(locked, AuthFailure.LOCKED_OUT.value)
    assert locked.status_code == 429 and locked.headers["Retry-After"] == str(int(LOCKOUT.lock_seconds))
    assert f"another {int(LOCKOUT.lock_seconds)} s" in error["message"]
    assert effects.root_checks == checks_before  # refused before any password check
    clock.advance(LOCKOUT.lock_seconds - 1)
    assert_refused(get(client, key_pair, clock, ROOT_PASSWORD), AuthFailure.LOCKED_OUT.value)
    assert effects.count == 0

    clock.advance(2)
    response = get(client, key_pair, clock, ROOT_PASSWORD)
    assert response.status_code == 200, response.text
    assert effects.count == 1


def test_public_routes_stay_open_to_a_locked_out_client(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> None:
    for n in range(LOCKOUT.max_failures):
        assert_refused(get(client, key_pair, clock, f"wrong-{n}"), AuthFailure.WRONG_ROOT_PASSWORD.value)
    assert client.get("/api/v1/secret").status_code == 200


def test_an_sdk_resending_each_typo_is_not_locked_out(
    client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects
) -> None:
    """Three mistyped SDK calls are six requests with one wrong password: no lock-out."""
    for _ in range(3 * 2):
        assert_refused(get(client, key_pair, clock, "typo"), AuthFailure.WRONG_ROOT_PASSWORD.value)
    assert get(client, key_pair, clock, ROOT_PASSWORD).status_code == 200
