import base64
import json

import pytest

from pyobshell.security.request_header import (
    ForwardAgent,
    ForwardType,
    HeaderFormatError,
    KeyStyle,
    RequestHeader,
)

KEYS = bytes(range(32))
KEYS_B64 = base64.b64encode(KEYS).decode()


def parse(obj) -> RequestHeader:
    return RequestHeader.parse(json.dumps(obj).encode())


def test_web_ui_and_sdk_spellings_give_the_same_header():
    web = parse({"Auth": "pw", "Ts": "1800000005", "Uri": "/api/v1/x?a=1", "Keys": KEYS_B64, "session_id": "s"})
    sdk = parse({"auth": "pw", "ts": "1800000005", "uri": "/api/v1/x?a=1", "keys": KEYS_B64, "SESSION_ID": "s"})
    assert web == sdk
    assert (web.auth, web.ts, web.uri, web.keys, web.session_id) == ("pw", 1800000005, "/api/v1/x?a=1", KEYS, "s")


def test_later_duplicate_wins_like_go():
    raw = b'{"Auth":"first","auth":"second","Ts":"1","Uri":"/"}'
    assert RequestHeader.parse(raw).auth == "second"


def test_go_agent_fields():
    h = parse(
        {
            "Auth": "",
            "Ts": "10",
            "Uri": "/rpc/v1/agent",
            "Token": "t",
            "ssotoken": "sso",
            "Keys": None,
            "Sha256": "",
            "ForwardType": 2,
            "ForwardAgent": {"ip": "127.0.0.1", "port": 2886},
            "Unknown": [1, 2],
        }
    )
    assert h.keys is None and h.token == "t" and h.sso_token == "sso"
    assert h.forward_type is ForwardType.MANUAL_FORWARD
    assert h.forward_agent == ForwardAgent("127.0.0.1", 2886)


def test_null_leaves_fields_empty():
    h = parse({"Auth": None, "Ts": "1", "Uri": "/", "Token": None, "ForwardType": None})
    assert (h.auth, h.token, h.forward_type) == ("", "", ForwardType.NOT_FORWARD)


@pytest.mark.parametrize(
    "obj",
    [
        {"Auth": "pw", "Ts": 1800000005, "Uri": "/"},  # Ts as a JSON number (obshell rejects it too)
        {"Auth": "pw", "Ts": "18e8", "Uri": "/"},
        {"Auth": "pw", "Ts": " 1", "Uri": "/"},
        {"Auth": "pw", "Ts": "99999999999999999999", "Uri": "/"},
        {"Auth": "pw", "Uri": "/"},  # Ts missing
        {"Auth": "pw", "Ts": "1"},  # Uri missing
        {"Auth": 5, "Ts": "1", "Uri": "/"},
        {"Ts": "1", "Uri": "/", "Keys": "not base64!"},
        {"Ts": "1", "Uri": "/", "Keys": 12},
        {"Ts": "1", "Uri": "/", "ForwardType": "2"},
        {"Ts": "1", "Uri": "/", "ForwardType": 7},
        {"Ts": "1", "Uri": "/", "ForwardType": True},
        {"Ts": "1", "Uri": "/", "ForwardAgent": {"ip": "h", "port": 70000}},
        {"Ts": "1", "Uri": "/", "ForwardAgent": "h:1"},
        ["Ts", "1"],
    ],
)
def test_invalid_headers_refused(obj):
    with pytest.raises(HeaderFormatError):
        parse(obj)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe{}", b"null", b"[" * 100000])
def test_non_json_refused(raw: bytes):
    with pytest.raises(HeaderFormatError):
        RequestHeader.parse(raw)


def test_to_json_styles():
    h = RequestHeader(ts=42, uri="/api/v1/ob/upgrade", auth="pw", keys=KEYS)
    assert json.loads(h.to_json(KeyStyle.GO)) == {"Auth": "pw", "Ts": "42", "Uri": "/api/v1/ob/upgrade", "Keys": KEYS_B64}
    assert json.loads(h.to_json(KeyStyle.LOWER)) == {"auth": "pw", "ts": "42", "uri": "/api/v1/ob/upgrade", "keys": KEYS_B64}
    assert RequestHeader.parse(h.to_json(KeyStyle.LOWER)) == h


def test_repr_hides_credentials():
    h = RequestHeader(ts=1, uri="/", auth="topsecret", token="tok", session_id="sess", keys=KEYS)
    assert "topsecret" not in repr(h) and "tok" not in repr(h) and "sess" not in repr(h)
