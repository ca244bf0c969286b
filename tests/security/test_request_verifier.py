import base64
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pyobshell.security.auth_error import AuthFailure
from pyobshell.security.credentials import AuthKind, SessionCheck
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.request_header import RequestHeader
from pyobshell.security.request_verifier import RequestVerifier, has_auth_header

from tests.security.client_wire import aes_cbc_b64, rsa_53, sdk_v2_request, web_ui_request
from tests.helpers.clock import FakeClock
from tests.security.conftest import AGENT_PASSWORD, ROOT_PASSWORD, assert_refused

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
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.WRONG_ROOT_PASSWORD)


def test_root_password_in_agent_header_is_wrong(verifier, builder):
    req = builder.build(URI, password=ROOT_PASSWORD, agent_header=True)
    assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.WRONG_AGENT_PASSWORD)


def test_expired_ts(verifier, builder, clock):
    req = builder.build(URI, password=ROOT_PASSWORD)  # Ts = now + 5
    clock.advance(5 + 300 + 1)  # past Ts plus the default 300 s skew
    err = assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.EXPIRED)
    assert "expired 301 s ago" in err.message


def test_ts_within_skew_accepted(verifier, builder, clock):
    req = builder.build(URI, password=ROOT_PASSWORD)
    clock.advance(5 + 299)
    assert verifier.verify("GET", URI, req.headers, b"", CLIENT).kind is AuthKind.ROOT_PASSWORD


def test_ts_too_far_ahead(verifier, builder):
    req = builder.build(URI, password=ROOT_PASSWORD, lifetime=1800 + 300 + 1)
    err = assert_refused(lambda: verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.TS_INVALID)
    assert "2101 s ahead" in err.message


def test_browser_clock_90_s_ahead_is_accepted(verifier, key_pair, clock):
    """The web UI sends its own clock + 1800 s; a browser 90 s fast is still within the skew."""
    header = rsa_53(key_pair.public_key, json.dumps({"Auth": ROOT_PASSWORD, "Ts": str(int(clock()) + 90 + 1800),
                                                     "Uri": URI}).encode())
    assert verify(verifier, "X-OCS-Header", header).kind is AuthKind.ROOT_PASSWORD


def test_ts_that_is_not_decimal_is_a_timestamp_error(verifier, key_pair, clock):
    header = rsa_53(key_pair.public_key, json.dumps({"Auth": ROOT_PASSWORD, "Ts": "soon", "Uri": URI}).encode())
    assert_refused(lambda: verify(verifier, "X-OCS-Header", header), AuthFailure.TS_INVALID)


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
        lambda: verify(verifier, "X-OCS-Header", value), AuthFailure.HEADER_UNDECRYPTABLE
    )


def test_header_for_another_key_refused(verifier):
    other = RequestBuilder(AgentKeyPair.generate().public_key).build(URI, password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify("GET", URI, other.headers, b"", CLIENT),
        AuthFailure.HEADER_UNDECRYPTABLE,
    )


def test_numeric_ts_refused(verifier, key_pair, clock):
    header = rsa_53(key_pair.public_key, json.dumps({"Auth": ROOT_PASSWORD, "Ts": int(clock()) + 5, "Uri": URI}).encode())
    assert_refused(lambda: verify(verifier, "X-OCS-Header", header), AuthFailure.HEADER_UNDECRYPTABLE)


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
        AuthFailure.NEEDS_AGENT_PASSWORD,
    )


# -- lock-out --------------------------------------------------------------------------------


def _attempt(verifier, builder, password: str, client: str = CLIENT):
    req = builder.build(URI, password=password)
    return verifier.verify("GET", URI, req.headers, b"", client)


def test_lockout_after_n_distinct_wrong_passwords_and_lifted_after_lock_time(verifier, builder, clock):
    for guess in ("guess-1", "guess-2", "guess-3"):  # the fixture's policy: 3 in 60 s lock for 120 s
        assert_refused(lambda: _attempt(verifier, builder, guess), AuthFailure.WRONG_ROOT_PASSWORD)
    err = assert_refused(lambda: _attempt(verifier, builder, ROOT_PASSWORD), AuthFailure.LOCKED_OUT)
    assert err.status == 429 and err.headers == {"Retry-After": "120"}
    assert "locked out for another 120 s" in err.message and ROOT_PASSWORD not in err.message
    assert _attempt(verifier, builder, ROOT_PASSWORD, client="10.0.0.8").kind is AuthKind.ROOT_PASSWORD
    clock.advance(119)
    err = assert_refused(lambda: _attempt(verifier, builder, ROOT_PASSWORD), AuthFailure.LOCKED_OUT)
    assert err.headers == {"Retry-After": "1"}
    clock.advance(2)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_the_same_wrong_password_resent_counts_once(verifier, builder):
    """obshell's SDK sends every failed request twice, and typos get repeated: neither locks out."""
    for _ in range(10):
        assert_refused(lambda: _attempt(verifier, builder, "typo"), AuthFailure.WRONG_ROOT_PASSWORD)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_guessing_is_still_stopped_when_each_guess_is_sent_twice(verifier, builder):
    for guess in ("a", "a", "b", "b", "c"):
        assert_refused(lambda: _attempt(verifier, builder, guess), AuthFailure.WRONG_ROOT_PASSWORD)
    assert_refused(lambda: _attempt(verifier, builder, "c"), AuthFailure.LOCKED_OUT)


def test_locked_out_client_never_reaches_the_password_checker(key_pair, clock, lockout):
    calls = []

    def checker(kind, candidate):
        calls.append(candidate)
        return False

    verifier = RequestVerifier(key_pair, checker, clock=clock, lockout=lockout)
    builder = RequestBuilder(key_pair.public_key, clock=clock)
    for n in range(4):
        assert_refused(lambda: _attempt(verifier, builder, f"guess-{n}"), AuthFailure.WRONG_ROOT_PASSWORD,
                       AuthFailure.LOCKED_OUT)
    assert len(calls) == 3


def test_success_resets_failure_count(verifier, builder):
    for guess in ("g1", "g2"):
        assert_refused(lambda: _attempt(verifier, builder, guess), AuthFailure.WRONG_ROOT_PASSWORD)
    _attempt(verifier, builder, ROOT_PASSWORD)
    for guess in ("g3", "g4"):
        assert_refused(lambda: _attempt(verifier, builder, guess), AuthFailure.WRONG_ROOT_PASSWORD)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_failures_outside_window_do_not_add_up(verifier, builder, clock):
    for guess in ("g1", "g2"):
        assert_refused(lambda: _attempt(verifier, builder, guess), AuthFailure.WRONG_ROOT_PASSWORD)
    clock.advance(61)
    assert_refused(lambda: _attempt(verifier, builder, "g3"), AuthFailure.WRONG_ROOT_PASSWORD)
    assert _attempt(verifier, builder, ROOT_PASSWORD).kind is AuthKind.ROOT_PASSWORD


def test_oversized_header_refused_before_decryption(verifier):
    assert_refused(lambda: verify(verifier, "X-OCS-Header", "A" * 20000), AuthFailure.HEADER_UNDECRYPTABLE)


# -- web sessions (optional checker) ---------------------------------------------------------


@pytest.fixture
def session_verifier(key_pair, clock, lockout):
    sessions = {"a" * 64: SessionCheck.VALID, "c" * 64: SessionCheck.EXPIRED}
    return RequestVerifier(
        key_pair, lambda kind, pw: pw == ROOT_PASSWORD, clock=clock, lockout=lockout,
        session_checker=lambda sid: sessions.get(sid, SessionCheck.INVALID),
    )


def test_session_id_authenticates_without_password(session_verifier, key_pair, clock):
    req = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock).build(URI, session_id="a" * 64)
    assert session_verifier.verify("GET", URI, req.headers, b"", CLIENT).kind is AuthKind.SESSION


def test_unknown_and_expired_sessions_have_their_own_codes(session_verifier, key_pair, clock):
    builder = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock)
    req = builder.build(URI, session_id="b" * 64)
    assert_refused(lambda: session_verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.SESSION_INVALID)
    req = builder.build(URI, session_id="c" * 64)
    assert_refused(lambda: session_verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.SESSION_EXPIRED)


def test_a_stale_session_polled_again_and_again_locks_nobody_out(session_verifier, key_pair, clock):
    builder = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock)
    for _ in range(5):
        req = builder.build(URI, session_id="c" * 64)
        assert_refused(lambda: session_verifier.verify("GET", URI, req.headers, b"", CLIENT), AuthFailure.SESSION_EXPIRED)
    req = builder.build(URI, session_id="a" * 64)
    assert session_verifier.verify("GET", URI, req.headers, b"", CLIENT).kind is AuthKind.SESSION


def test_session_id_is_ignored_where_sessions_are_not_taken(session_verifier, key_pair, clock):
    """The login route takes the password only, even from a client that still holds a session."""
    req = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock).build(
        URI, password=ROOT_PASSWORD, session_id="b" * 64)
    verified = session_verifier.verify("GET", URI, req.headers, b"", CLIENT, allowed=frozenset({AuthKind.ROOT_PASSWORD}))
    assert verified.kind is AuthKind.ROOT_PASSWORD
