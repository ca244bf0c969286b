import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from pyobshell.errors import ObshellError

from pyobshell.security import aes_body
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.request_header import ForwardAgent, ForwardType

from tests.helpers.clock import FakeClock
from tests.security.test_keypair import LEGACY_512_BIT_KEY

URI = "/api/v1/ob/upgrade?x=1"


def decrypt_blocks(key_pair: AgentKeyPair, value: str) -> list[bytes]:
    raw = base64.b64decode(value)
    return [key_pair.private_key.decrypt(raw[i : i + 128], padding.PKCS1v15()) for i in range(0, len(raw), 128)]


def test_web_ui_style(key_pair: AgentKeyPair, clock: FakeClock):
    req = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock).build(
        URI, b'{"a":1}', password="pw", session_id="s" * 64
    )
    (name,) = req.headers
    assert name == "X-OCS-Header"
    chunks = decrypt_blocks(key_pair, req.headers[name])
    assert all(len(c) == 53 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 53
    header = json.loads(b"".join(chunks))
    assert list(header) == ["session_id", "Auth", "Ts", "Uri", "Keys"]
    assert header["Ts"] == str(int(clock()) + 1800)
    assert (header["Auth"], header["Uri"]) == ("pw", URI)
    assert base64.b64decode(header["Keys"]) == req.keys.to_bytes()
    assert aes_body.decrypt(req.keys, req.body) == b'{"a":1}'


def test_web_ui_style_sends_keys_only_with_a_body_or_on_request(key_pair: AgentKeyPair, clock: FakeClock):
    builder = RequestBuilder(key_pair.public_key, ClientStyle.WEB_UI, clock=clock)
    plain = json.loads(b"".join(decrypt_blocks(key_pair, builder.build(URI, password="pw").headers["X-OCS-Header"])))
    assert "Keys" not in plain
    login = builder.build("/api/v1/login", password="pw", with_keys=True)
    assert "Keys" in json.loads(b"".join(decrypt_blocks(key_pair, login.headers["X-OCS-Header"])))
    assert login.body == b""


def test_sdk_v2_style(key_pair: AgentKeyPair, clock: FakeClock):
    req = RequestBuilder(key_pair.public_key_b64(), ClientStyle.SDK_V2, clock=clock).build(
        URI, password="pw", agent_header=True
    )
    chunks = decrypt_blocks(key_pair, req.headers["X-OCS-Agent-Header"])
    assert all(len(c) == 53 for c in chunks[:-1])
    header = json.loads(b"".join(chunks))
    assert header == {"auth": "pw", "ts": str(int(clock()) + 5), "uri": URI, "keys": req.keys.to_b64()}


def test_agent_style_uses_full_chunks_and_go_names(key_pair: AgentKeyPair, clock: FakeClock):
    req = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build(
        "/rpc/v1/agent",
        b"{}",
        token="t" * 64,
        forward_type=ForwardType.MANUAL_FORWARD,
        forward_agent=ForwardAgent("127.0.1.1", 2886),
    )
    chunks = decrypt_blocks(key_pair, req.headers["X-OCS-Header"])
    assert len(chunks[0]) == 117
    header = json.loads(b"".join(chunks))
    assert header["Ts"] == str(int(clock()) + 10) and header["Token"] == "t" * 64
    assert header["ForwardType"] == 2 and header["ForwardAgent"] == {"ip": "127.0.1.1", "port": 2886}


def test_every_request_is_fresh(key_pair: AgentKeyPair, clock: FakeClock):
    builder = RequestBuilder(key_pair.public_key, clock=clock)
    a, b = builder.build(URI, b"{}", password="pw"), builder.build(URI, b"{}", password="pw")
    assert a.headers != b.headers and a.body != b.body and a.keys.to_bytes() != b.keys.to_bytes()


def test_works_with_a_legacy_512_bit_agent_key():
    legacy = serialization.load_pem_private_key(LEGACY_512_BIT_KEY, None)
    req = RequestBuilder(legacy.public_key(), ClientStyle.AGENT).build(URI, password="pw" * 40)
    raw = base64.b64decode(req.headers["X-OCS-Header"])
    assert len(raw) % 64 == 0 and len(raw) > 64  # 64-byte blocks of at most 53 bytes each


def test_bad_public_key_text_is_a_clear_error():
    with pytest.raises(ObshellError):
        RequestBuilder("definitely not a key")
