"""Each way a request can be wrong is refused with obshell's code for it, and the route never runs."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.auth_error import AuthFailure
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import ROOT_PASSWORD, Effects, assert_refused

COUNTER = "/api/v1/authtest/counter"
BODY = {"by": 1, "label": "a label long enough for several AES blocks"}


def post(client: TestClient, headers: dict, body: bytes, path: str = COUNTER):
    return client.post(path, headers=headers, content=body)


def test_no_header_on_an_authenticated_route(client: TestClient, effects: Effects) -> None:
    assert_refused(client.post(COUNTER, json={"by": 1, "label": "plain"}), AuthFailure.MISSING_HEADER.value)
    assert_refused(client.get(COUNTER), AuthFailure.MISSING_HEADER.value)
    assert effects.count == 0


def test_wrong_password(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    assert_refused(post(client, *obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, "guess", BODY)), AuthFailure.WRONG_ROOT_PASSWORD.value)
    assert effects.count == 0 and effects.root_checks == 1


def test_expired_ts(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, BODY)  # Ts = now + 5
    clock.advance(5 + 301)  # past Ts by more than the 300 s skew allowed
    assert_refused(post(client, headers, body), AuthFailure.EXPIRED.value)
    assert effects.count == 0 and effects.root_checks == 0


def test_ts_too_far_ahead(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    header = {"auth": ROOT_PASSWORD, "ts": str(int(clock()) + 1800 + 301 + 1), "uri": COUNTER}
    assert_refused(client.get(COUNTER, headers=obshell_wire.custom(key_pair.public_key, header)), AuthFailure.TS_INVALID.value)
    assert effects.count == 0


def test_ts_as_a_number_is_refused(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    header = {"auth": ROOT_PASSWORD, "ts": int(clock()) + 5, "uri": COUNTER}
    assert_refused(client.get(COUNTER, headers=obshell_wire.custom(key_pair.public_key, header)), AuthFailure.HEADER_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_uri_mismatch_path(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), "/api/v1/authtest/other", ROOT_PASSWORD, BODY)
    assert_refused(post(client, headers, body), AuthFailure.URI_MISMATCH.value)
    assert effects.count == 0


def test_uri_mismatch_query(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, _ = obshell_wire.sdk_v2(key_pair.public_key, clock(), f"{COUNTER}?step=1", ROOT_PASSWORD)
    assert_refused(client.get(f"{COUNTER}?step=1000", headers=headers), AuthFailure.URI_MISMATCH.value)
    assert_refused(client.get(COUNTER, headers=headers), AuthFailure.URI_MISMATCH.value)  # query dropped
    assert effects.count == 0


def test_uri_must_match_percent_encoding_byte_for_byte(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, _ = obshell_wire.sdk_v2(key_pair.public_key, clock(), f"{COUNTER}?step=%31", ROOT_PASSWORD)
    assert_refused(client.get(f"{COUNTER}?step=1", headers=headers), AuthFailure.URI_MISMATCH.value)  # same value, other bytes
    assert effects.count == 0


def test_replayed_header(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, BODY)
    assert post(client, headers, body).status_code == 200
    assert_refused(post(client, headers, body), AuthFailure.REPLAYED.value)
    assert effects.count == 1


def test_tampered_body_ciphertext(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, BODY)
    ciphertext = bytearray(base64.b64decode(body))
    ciphertext[-17] ^= 0x80  # last byte of the next-to-last block: the padding byte becomes > 16
    assert_refused(post(client, headers, base64.b64encode(bytes(ciphertext))), AuthFailure.BODY_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_body_not_a_whole_number_of_blocks(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, BODY)
    assert_refused(post(client, headers, base64.b64encode(base64.b64decode(body)[:-3])), AuthFailure.BODY_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_garbage_base64_header(client: TestClient, effects: Effects) -> None:
    assert_refused(client.get(COUNTER, headers={"X-OCS-Header": "!!not*base64=="}), AuthFailure.HEADER_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_garbage_base64_body(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    headers, _ = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, BODY)
    assert_refused(post(client, headers, b"%%%% not base64 %%%%"), AuthFailure.BODY_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_header_encrypted_with_a_key_of_another_size(client: TestClient, clock: FakeClock, effects: Effects) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    headers, body = obshell_wire.sdk_v2(other, clock(), COUNTER, ROOT_PASSWORD, BODY)
    assert_refused(post(client, headers, body), AuthFailure.HEADER_UNDECRYPTABLE.value)
    assert effects.count == 0


@pytest.mark.parametrize("size", [16, 24, 48])
def test_keys_of_the_wrong_size(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects, size: int) -> None:
    key = os.urandom(16)
    body = obshell_wire.aes_body(key, os.urandom(16), json.dumps(BODY).encode())
    header = {"auth": ROOT_PASSWORD, "ts": str(int(clock()) + 5), "uri": COUNTER, "keys": base64.b64encode(key + os.urandom(size - 16)).decode()}
    assert_refused(post(client, obshell_wire.custom(key_pair.public_key, header), body), AuthFailure.BODY_UNDECRYPTABLE.value)
    assert effects.count == 0


def test_refusals_are_plain_envelopes_with_a_trace_id(client: TestClient) -> None:
    body = client.get(COUNTER, headers={"X-OBSHELL-Trace-ID": "t-401"}).json()
    assert body["traceId"] == "t-401" and "data" not in body


def test_oversized_encrypted_body(client: TestClient, security, key_pair: AgentKeyPair, clock: FakeClock, effects: Effects) -> None:
    security.max_body_bytes = 1024  # read no further than this before the body is refused
    headers, body = obshell_wire.sdk_v2(key_pair.public_key, clock(), COUNTER, ROOT_PASSWORD, {"by": 1, "label": "x" * 2000})
    assert_refused(post(client, headers, body), AuthFailure.BODY_UNDECRYPTABLE.value)
    assert effects.count == 0
