import json
import stat
from pathlib import Path

import pytest

from pyobshell.errors import ObshellError
from pyobshell.security.agent_token import TOKEN_FILE_NAME, AgentToken
from pyobshell.security.auth_error import AuthFailure
from pyobshell.security.credentials import AuthKind, StaticPasswords
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.request_verifier import RequestVerifier

from tests.helpers.clock import FakeClock
from tests.security.conftest import ROOT_PASSWORD, assert_refused

RPC = "/rpc/v1/agent/heartbeat"
RPC_ONLY = frozenset({AuthKind.AGENT_TOKEN})


def test_token_shape_and_check():
    token = AgentToken.generate()
    assert len(token.value) == 64 and int(token.value, 16) >= 0
    assert token(token.value) and not token("") and not token(AgentToken.generate().value)
    assert token.value not in repr(token)
    with pytest.raises(ObshellError):
        AgentToken("short")


def test_load_or_create_is_stable_and_private(tmp_path: Path):
    assert AgentToken.load(tmp_path) is None
    first = AgentToken.load_or_create(tmp_path)
    assert AgentToken.load_or_create(tmp_path) == first
    assert stat.S_IMODE((tmp_path / TOKEN_FILE_NAME).stat().st_mode) == 0o600
    replacement = AgentToken.generate()
    replacement.save(tmp_path)
    assert AgentToken.load(tmp_path) == replacement


def test_corrupt_token_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / TOKEN_FILE_NAME).write_text("nonsense")
    with pytest.raises(ObshellError) as info:
        AgentToken.load(tmp_path)
    assert info.value.code == "Security.AgentToken.StoreFailed"


def test_sealed_token_opens_only_with_the_joiners_key(key_pair: AgentKeyPair):
    token = AgentToken.generate()
    sealed = token.seal_for(key_pair.public_key)
    assert token.value not in sealed
    assert AgentToken.unseal(key_pair, sealed) == token
    with pytest.raises(ObshellError) as info:
        AgentToken.unseal(AgentKeyPair.generate(), sealed)
    assert info.value.code == "Security.AgentToken.Invalid"


@pytest.fixture
def rpc_verifier(key_pair: AgentKeyPair, clock: FakeClock):
    token = AgentToken.generate()
    verifier = RequestVerifier(key_pair, StaticPasswords(root=ROOT_PASSWORD), clock=clock, token_checker=token)
    return verifier, token


def test_rpc_call_with_cluster_token_accepted(rpc_verifier, key_pair, clock):
    verifier, token = rpc_verifier
    req = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build(RPC, b'{"n":1}', token=token.value)
    result = verifier.verify("POST", RPC, req.headers, req.body, "127.0.1.2", allowed=RPC_ONLY)
    assert result.kind is AuthKind.AGENT_TOKEN and json.loads(result.body) == {"n": 1}


def test_rpc_call_with_wrong_token_refused(rpc_verifier, key_pair, clock):
    verifier, _ = rpc_verifier
    req = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build(RPC, token=AgentToken.generate().value)
    assert_refused(
        lambda: verifier.verify("POST", RPC, req.headers, b"", "127.0.1.2", allowed=RPC_ONLY),
        AuthFailure.WRONG_TOKEN,
    )


def test_rpc_route_refuses_the_root_password(rpc_verifier, key_pair, clock):
    verifier, _ = rpc_verifier
    req = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build(RPC, password=ROOT_PASSWORD)
    assert_refused(
        lambda: verifier.verify("POST", RPC, req.headers, b"", "127.0.1.2", allowed=RPC_ONLY),
        AuthFailure.WRONG_TOKEN,
    )


def test_token_is_refused_when_the_agent_has_none(verifier, key_pair, clock):
    req = RequestBuilder(key_pair.public_key, ClientStyle.AGENT, clock=clock).build(RPC, token=AgentToken.generate().value)
    assert_refused(lambda: verifier.verify("POST", RPC, req.headers, b"", "127.0.1.2"), AuthFailure.WRONG_TOKEN)
