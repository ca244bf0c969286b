import base64
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pyobshell.security.auth_error import AuthFailure
from pyobshell.security.credentials import AuthKind
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.request_header import RequestHeader
from pyobshell.security.request_verifier import RequestVerifier, has_auth_header

from .client_wire import aes_cbc_b64, rsa_53, sdk_v2_request, web_ui_request
from .conftest import AGENT_PASSWORD, ROOT_PASSWORD, FakeClock, assert_refused

URI = "/api/v1/ob/upgrade"
BODY = {"version": "4.2.1.1", "release": "101000062023110109.el7", "mode": "rolling", "upgradeDir": ""}
CLIENT = "10.0.0.7"


@pytest.fixture
def builder(key_pair: AgentKeyPair, clock: FakeClock) -> RequestBuilder:
    return RequestBuilder(key_pair.public_key_b64(), ClientStyle.SDK_V2, clock=clock)


def verify(verifier: RequestVerifier, header_name: str, header_value: str, body: bytes = b"", target: str = URI):
    return verifier.verify("POST", target, {header_name: header_value}, body, CLIENT)


# -- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [sdk_v2_request, web_ui_request], ids=["sdk-v2", "web-ui"])
def test_obshell_client_styles_accepted(verifier, key_pair, clock, make):
    header, body = make(key_pair.public_key, clock(), URI, ROOT_PASSWORD, BODY)
    result = verify(verifier, "X-OCS-Header", header, body)
    assert result.kind is AuthKind.ROOT_PASSWORD
    assert json.loads(result.body) == BODY
    assert result.keys is not None


@pytest.mark.parametrize("style", list(ClientStyle))
def test_builder_styles_accepted_with_agent_password(verifier, key_pair, clock, style):
    req = RequestBuilder(key_pair.public_key, style, clock=clock).build(
        URI, json.dumps(BODY).encode(), password=AGENT_PASSWORD, agent_header=True
    )
    result = verifier.verify("POST", URI, req.headers, req.body, CLIENT)
    assert result.kind is AuthKind.AGENT_PASSWORD and json.loads(result.body) == BODY


def test_no_body_and_query_string(verifier, key_pair, clock):
    target = "/api/v1/task/dag/12?show_details=true&x=%2F"
    header, body = web_ui_request(key_pair.public_key, clock(), target, ROOT_PASSWORD, None)
    result = verifier.verify("GET", target, {"x-ocs-header": header}, body, CLIENT)  # any header case
    assert result.body == b"" and result.keys is None


def test_agent_header_wins_when_both_are_sent(verifier, builder):
    agent = builder.build(URI, password=AGENT_PASSWORD, agent_header=True)
    root_garbage = {"X-OCS-Header": "garbage"}
    result = verifier.verify("GET", URI, {**root_garbage, **agent.headers}, b"", CLIENT)
    assert result.kind is AuthKind.AGENT_PASSWORD
    assert has_auth_header(root_garbage) and not has_auth_header({"Accept": "*/*"})


def test_unencrypted_upload_body_passed_through(verifier, builder):
    req = builder.build("/api/v1/package", password=ROOT_PASSWORD)
    multipart = b"--boundary\r\n..."
    result = verifier.verify("POST", "/api/v1/package", req.headers, multipart, CLIENT, body_encrypted=False)
    assert result.body == multipart


# -- refused: each reason on its own, all with the same 401 ----------------------------------


def test_no_header(verifier):
    assert_refused(lambda: verifier.verify("GET", URI, {"Accept": "*/*"}, b"", CLIENT), AuthFailure.MISSING_HEADER)


def test_wrong_root_password(verifier, builder):
    req = builder.build(URI, password="guess")
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.WRONG_CREDENTIAL)


def test_root_password_in_agent_header_is_wrong(verifier, builder):
    req = builder.build(URI, password=ROOT_PASSWORD, agent_header=True)
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.WRONG_CREDENTIAL)


def test_expired_ts(verifier, builder, clock):
    req = builder.build(URI, password=ROOT_PASSWORD)  # Ts = now + 5
    clock.advance(5 + 60 + 1)  # past Ts plus the 60 s skew
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.EXPIRED)


def test_ts_within_skew_accepted(verifier, builder, clock):
    req = builder.build(URI, password=ROOT_PASSWORD)
    clock.advance(5 + 59)
    assert verifier.verify("GET", URI, req.headers, b"", CLIENT).kind is AuthKind.ROOT_PASSWORD


def test_ts_too_far_ahead(verifier, builder):
    req = builder.build(URI, password=ROOT_PASSWORD, lifetime=1800 + 60 + 1)
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.TOO_FAR_AHEAD)


def test_uri_path_mismatch(verifier, builder):
    req = builder.build("/api/v1/tenant/t1", password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify("DELETE", "/api/v1/tenant/t2", req.headers, b"", CLIENT), AuthFailure.URI_MISMATCH
    )


def test_uri_query_mismatch(verifier, builder):
    req = builder.build("/api/v1/task/dag/12?show_details=false", password=ROOT_PASSWORD)
    target = "/api/v1/task/dag/12?show_details=true"
    assert_refused(lambda: verifier.verify("GET", target, req.headers, b"", CLIENT), AuthFailure.URI_MISMATCH)


def test_uri_query_dropped_or_reencoded_mismatch(verifier, builder):
    req = builder.build("/api/v1/x?name=a%2Fb", password=ROOT_PASSWORD)
    for target in ("/api/v1/x", "/api/v1/x?name=a/b"):
        assert_refused(lambda: verifier.verify("GET", target, req.headers, b"", CLIENT), AuthFailure.URI_MISMATCH)


def test_replayed_header(verifier, builder):
    req = builder.build(URI, json.dumps(BODY).encode(), password=ROOT_PASSWORD)
    verifier.verify("POST", URI, req.headers, req.body, CLIENT)
    assert_refused(lambda: verifier.verify("POST", URI, req.headers, req.body, "10.9.9.9"), AuthFailure.REPLAYED)


def test_header_with_non_canonical_base64_spelling_refused(verifier, key_pair, clock):
    one_block = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock)
    value = one_block.build(URI, password=ROOT_PASSWORD).headers["X-OCS-Header"]
    assert len(value) == 172 and value.endswith("=") and not value.endswith("==")  # 128 bytes: 2 spare bits
    last = value[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = value[:-2] + alphabet[alphabet.index(last) ^ 1] + "="  # same bytes, other spelling
    assert base64.b64decode(twin) == base64.b64decode(value)
    assert_refused(lambda: verify(verifier, "X-OCS-Header", twin), AuthFailure.HEADER_UNDECRYPTABLE)


def test_garbage_header_base64(verifier):
    assert_refused(lambda: verify(verifier, "X-OCS-Header", "not*base64"), AuthFailure.HEADER_UNDECRYPTABLE)


def test_tampered_header_ciphertext(verifier, builder):
    raw = bytearray(base64.b64decode(builder.build(URI, password=ROOT_PASSWORD).headers["X-OCS-Header"]))
    raw[5] ^= 0x01
    value = base64.b64encode(bytes(raw)).decode()
    # Implicit rejection may turn a bad block into random bytes: then the JSON check fails instead.
    assert_refused(
        lambda: verify(verifier, "X-OCS-Header", value), AuthFailure.HEADER_UNDECRYPTABLE, AuthFailure.HEADER_INVALID
    )


def test_header_for_another_key_refused(verifier):
    other = RequestBuilder(AgentKeyPair.generate().public_key).build(URI, password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify("GET", URI, other.headers, b"", CLIENT),
        AuthFailure.HEADER_UNDECRYPTABLE,
        AuthFailure.HEADER_INVALID,
    )


def test_numeric_ts_refused(verifier, key_pair, clock):
    header = rsa_53(key_pair.public_key, json.dumps({"Auth": ROOT_PASSWORD, "Ts": int(clock()) + 5, "Uri": URI}).encode())
    assert_refused(lambda: verify(verifier, "X-OCS-Header", header), AuthFailure.HEADER_INVALID)


def _tampered_body(body_b64: bytes) -> bytes:
    # The plaintext ends in a whole padding block (16 x 0x10); flipping the last byte of the
    # block before it turns the final padding byte into 0x11, which can never be valid.
    raw = bytearray(base64.b64decode(body_b64))
    raw[-17] ^= 0x01
    return base64.b64encode(bytes(raw))


def test_tampered_body_ciphertext(verifier, builder):
    req = builder.build(URI, b"0123456789abcdef", password=ROOT_PASSWORD)
    body = _tampered_body(req.body)
    assert_refused(lambda: verifier.verify("POST", URI, req.headers, body, CLIENT), AuthFailure.BODY_UNDECRYPTABLE)


def test_garbage_body_base64(verifier, builder):
    req = builder.build(URI, json.dumps(BODY).encode(), password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify("POST", URI, req.headers, b"%%" + req.body, CLIENT), AuthFailure.BODY_UNDECRYPTABLE
    )


def test_body_without_keys(verifier, key_pair, clock):
    header = RequestHeader(ts=int(clock()) + 5, uri=URI, auth=ROOT_PASSWORD)
    value = RequestBuilder(key_pair.public_key).encrypt_header(header)
    assert_refused(lambda: verify(verifier, "X-OCS-Header", value, b"QUJDRA=="), AuthFailure.BODY_UNDECRYPTABLE)


@pytest.mark.parametrize("size", [16, 24, 48])
def test_wrong_aes_key_size(verifier, key_pair, clock, size):
    keys = bytes(range(size))
    header = RequestHeader(ts=int(clock()) + 5, uri=URI, auth=ROOT_PASSWORD, keys=keys)
    value = RequestBuilder(key_pair.public_key).encrypt_header(header)
    body = aes_cbc_b64(keys[:16], keys[16:32].ljust(16, b"\0"), b"{}")
    assert_refused(lambda: verify(verifier, "X-OCS-Header", value, body), AuthFailure.BODY_UNDECRYPTABLE)


def _raw_cbc_request(key_pair, clock, padded_plaintext: bytes):
    key, iv = bytes(16), bytes(range(16))
    header = RequestHeader(ts=int(clock()) + 5, uri=URI, auth=ROOT_PASSWORD, keys=key + iv)
    value = RequestBuilder(key_pair.public_key).encrypt_header(header)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return value, base64.b64encode(enc.update(padded_plaintext) + enc.finalize())


def test_valid_hand_padded_body_accepted(verifier, key_pair, clock):
    value, body = _raw_cbc_request(key_pair, clock, b'{"a":1}' + b"\x09" * 9)
    assert verify(verifier, "X-OCS-Header", value, body).body == b'{"a":1}'


def test_bad_body_padding(verifier, key_pair, clock):
    # Last byte says 9 bytes of padding but the bytes before it are not 0x09.
    value, body = _raw_cbc_request(key_pair, clock, b'{"a":1}' + b"\x00" * 8 + b"\x09")
    assert_refused(lambda: verify(verifier, "X-OCS-Header", value, body), AuthFailure.BODY_UNDECRYPTABLE)


def test_kind_not_allowed_on_route(verifier, builder):
    req = builder.build("/api/v1/obproxy/x", password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify(
            "GET", "/api/v1/obproxy/x", req.headers, b"", CLIENT, allowed=frozenset({AuthKind.AGENT_PASSWORD})
        ),
        AuthFailure.KIND_NOT_ALLOWED,
    )


# -- lock-out --------------------------------------------------------------------------------


def _attempt(verifier, builder, password: str, client: str = CLIENT):
    req = builder.build(URI, password=password)
    return verifier.verify("GET", URI, req.headers, b"", client)


def test_lockout_after_n_wrong_passwords_and_lifted_after_lock_time(verifier, builder, clock):
    for _ in range(3):  # the fixture's policy: 3 failures in 60 s lock for 120 s
        assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL)
    assert_refused(lambda: _attempt(verifier, builder, ROOT_PASSWORD), AuthFailure.LOCKED_OUT)
    assert _attempt(verifier, builder, ROOT_PASSWORD, client="10.0.0.8").kind is AuthKind.ROOT_PASSWORD
    clock.advance(119)
    assert_refused(lambda: _attempt(verifier, builder, ROOT_PASSWORD), AuthFailure.LOCKED_OUT)
    clock.advance(2)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_locked_out_client_never_reaches_the_password_checker(key_pair, clock, lockout):
    calls = []

    def checker(kind, candidate):
        calls.append(candidate)
        return False

    verifier = RequestVerifier(key_pair, checker, clock=clock, lockout=lockout)
    builder = RequestBuilder(key_pair.public_key, clock=clock)
    for _ in range(4):
        assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL, AuthFailure.LOCKED_OUT)
    assert len(calls) == 3


def test_success_resets_failure_count(verifier, builder):
    for _ in range(2):
        assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL)
    _attempt(verifier, builder, ROOT_PASSWORD)
    for _ in range(2):
        assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_failures_outside_window_do_not_add_up(verifier, builder, clock):
    for _ in range(2):
        assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL)
    clock.advance(61)
    assert_refused(lambda: _attempt(verifier, builder, "guess"), AuthFailure.WRONG_CREDENTIAL)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_oversized_header_refused_before_decryption(verifier):
    assert_refused(lambda: verify(verifier, "X-OCS-Header", "A" * 20000), AuthFailure.HEADER_UNDECRYPTABLE)


# -- web sessions (optional checker) ---------------------------------------------------------


@pytest.fixture
def session_verifier(key_pair, clock, lockout):
    sessions = {"a" * 64}
    return RequestVerifier(
        key_pair, lambda kind, pw: False, clock=clock, lockout=lockout, session_checker=sessions.__contains__
    )


def test_session_id_authenticates_without_password(session_verifier, key_pair, clock):
    req = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock).build(URI, session_id="a" * 64)
    assert session_verifier.verify("GET", URI, req.headers, b"", CLIENT).kind is AuthKind.SESSION


def test_unknown_session_counts_towards_lockout(session_verifier, key_pair, clock):
    builder = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock)
    for _ in range(3):
        req = builder.build(URI, session_id="b" * 64)
        assert_refused(lambda: session_verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.WRONG_CREDENTIAL)
    req = builder.build(URI, session_id="a" * 64)
    assert_refused(lambda: session_verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.LOCKED_OUT)
