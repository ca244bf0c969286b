"""The console's browser crypto (``console/static/js/crypto.js``) against the agent's verifier.

The module runs under Node (a test-only dependency; skipped without it) exactly as the browser
loads it: it builds a sign-in header (root@sys password, ``Keys``), a request with a session id
and an encrypted body, through WebCrypto and through its plain-JavaScript AES, and the agent's
:class:`RequestVerifier` must accept each one, and refuse it once tampered with. It also decrypts
a login reply the agent encrypted, and checks its AES against FIPS-197.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pyobshell.console import STATIC_DIR
from pyobshell.security import aes_body
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.credentials import AuthKind, SessionCheck, StaticPasswords
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.replay_cache import ReplayCache
from pyobshell.security.request_verifier import RequestVerifier
from tests.helpers.clock import FakeClock

NODE = shutil.which("node")
HARNESS = Path(__file__).with_name("crypto_harness.mjs")
MODULE = STATIC_DIR / "js" / "crypto.js"
ROOT_PASSWORD = "r00t-S3cret!"
SESSION = "ab" * 32
CLIENT = "10.0.0.9"
UPGRADE = {"version": "4.2.1.1", "release": "101000062023110109.el7", "mode": "ROLLING", "upgradeDir": "",
           "pause_after_zones": ["zone1"], "note": "ünïcødé"}

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (Debian package 'nodejs'): "
                                                     "the console's browser crypto is tested under it")


def run_js(job: dict) -> dict:
    done = subprocess.run([NODE, str(HARNESS)], input=json.dumps({"module": str(MODULE), **job}),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def verifier(key_pair: AgentKeyPair, clock: FakeClock) -> RequestVerifier:
    sessions = {SESSION: SessionCheck.VALID}
    return RequestVerifier(key_pair, StaticPasswords(root=ROOT_PASSWORD), clock=clock,
                           replay_cache=ReplayCache(clock=clock),
                           session_checker=lambda sid: sessions.get(sid, SessionCheck.INVALID))


def flip(text: str, at: int) -> str:
    """``text`` (base64) with one bit of its decoded byte ``at`` flipped."""
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_the_js_aes_is_aes_and_the_key_size_is_read_from_the_der(key_pair: AgentKeyPair) -> None:
    out = run_js({"public_key": key_pair.public_key_b64(), "fips": True})
    assert out["fips"] == "69c4e0d86a7b0430d8cdb78070b4c55a"  # FIPS-197 appendix C.1
    assert out["k"] == key_pair.key_bits // 8


@pytest.mark.parametrize("webcrypto", [True, False], ids=["webcrypto", "plain-js-aes"])
def test_a_sign_in_header_from_the_browser_code_is_accepted(verifier, key_pair, clock, webcrypto) -> None:
    request = {"uri": "/api/v1/login", "password": ROOT_PASSWORD, "now": clock(), "with_keys": True,
               "webcrypto": webcrypto}
    (made,) = run_js({"public_key": key_pair.public_key_b64(), "requests": [request]})["requests"]
    assert made["body"] is None
    verified = verifier.verify("POST", "/api/v1/login", {"X-OCS-Header": made["header"]}, b"", CLIENT)
    assert verified.kind is AuthKind.ROOT_PASSWORD and verified.header.ts == int(clock()) + 1800
    assert verified.keys is not None
    assert verified.keys.to_bytes() == base64.b64decode(made["key"]) + base64.b64decode(made["iv"])

    # the agent's answer: the session id under the same key and iv, read back by the browser code
    reply = aes_body.encrypt_text(verified.keys, SESSION)
    key, iv = made["key"], made["iv"]
    assert run_js({"replies": [{"key": key, "iv": iv, "value": reply, "webcrypto": webcrypto}]})["replies"] == [SESSION]


@pytest.mark.parametrize("webcrypto", [True, False], ids=["webcrypto", "plain-js-aes"])
def test_a_session_request_with_a_body_is_accepted_and_decrypts(verifier, key_pair, clock, webcrypto) -> None:
    uri = "/api/v1/ob/upgrade/plan?x=%2F1"
    request = {"uri": uri, "session_id": SESSION, "body": UPGRADE, "now": clock(), "webcrypto": webcrypto}
    (made,) = run_js({"public_key": key_pair.public_key_b64(), "requests": [request]})["requests"]
    verified = verifier.verify("POST", uri, {"X-OCS-Header": made["header"]}, made["body"].encode(), CLIENT)
    assert verified.kind is AuthKind.SESSION and verified.header.session_id == SESSION
    assert json.loads(verified.body) == UPGRADE


def test_a_get_without_body_carries_no_keys(verifier, key_pair, clock) -> None:
    request = {"uri": "/api/v1/ob/info", "session_id": SESSION, "now": clock()}
    (made,) = run_js({"public_key": key_pair.public_key_b64(), "requests": [request]})["requests"]
    verified = verifier.verify("GET", "/api/v1/ob/info", {"X-OCS-Header": made["header"]}, b"", CLIENT)
    assert verified.kind is AuthKind.SESSION and verified.keys is None and verified.body == b""


def refusal(call) -> AuthFailure:
    with pytest.raises(AuthError) as caught:
        call()
    return caught.value.failure


def test_tampered_requests_are_refused(verifier, key_pair, clock) -> None:
    uri = "/api/v1/ob/upgrade"
    requests = [{"uri": uri, "session_id": SESSION, "body": UPGRADE, "now": clock()} for _ in range(4)]
    requests.append({"uri": "/api/v1/login", "password": "wrong-password", "now": clock(), "with_keys": True})
    made = run_js({"public_key": key_pair.public_key_b64(), "requests": requests})["requests"]

    def verify(header: str, body: str | None, target: str = uri):
        return verifier.verify("POST", target, {"X-OCS-Header": header}, (body or "").encode(), CLIENT)

    # a bit of the RSA header flipped: it no longer decrypts to a header
    assert refusal(lambda: verify(flip(made[0]["header"], 5), made[0]["body"])) is AuthFailure.HEADER_UNDECRYPTABLE
    # the last byte of the body's next-to-last block flipped: it flips the padding's last byte,
    # which can never be valid PKCS#7 then
    tampered = flip(made[1]["body"], len(base64.b64decode(made[1]["body"])) - 17)
    assert refusal(lambda: verify(made[1]["header"], tampered)) is AuthFailure.BODY_UNDECRYPTABLE
    # the header is bound to its Uri
    assert refusal(lambda: verify(made[2]["header"], made[2]["body"], "/api/v1/ob/upgrade/plan")) \
        is AuthFailure.URI_MISMATCH
    # a header is accepted once only
    verify(made[3]["header"], made[3]["body"])
    assert refusal(lambda: verify(made[3]["header"], made[3]["body"])) is AuthFailure.REPLAYED
    # a wrong password at sign-in
    assert refusal(lambda: verify(made[4]["header"], None, "/api/v1/login")) is AuthFailure.WRONG_ROOT_PASSWORD


def test_a_reply_under_other_keys_does_not_decrypt(key_pair) -> None:
    keys, other = AesKeys.generate(), AesKeys.generate()
    reply = aes_body.encrypt_text(other, SESSION)
    job = {"key": base64.b64encode(keys.to_bytes()[:16]).decode(), "iv": base64.b64encode(keys.to_bytes()[16:]).decode(),
           "value": reply, "webcrypto": False}
    done = subprocess.run([NODE, str(HARNESS)], input=json.dumps({"module": str(MODULE), "replies": [job]}),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 or json.loads(done.stdout)["replies"] != [SESSION]
