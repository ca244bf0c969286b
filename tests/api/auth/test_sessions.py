"""obshell's web UI flow, byte for byte: login, the session id instead of a password, logout.

The requests are built as the web UI's request.js builds them (``obshell_wire.web_ui``: header
JSON ``{Auth, Ts (a string, its clock + 1800), Uri with the query, Keys, session_id}``, RSA in
k-11 byte chunks, CryptoJS-style AES-CBC), independently of pyobshell's own client.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pyobshell.security.auth_error import AuthFailure
from pyobshell.security.credentials import SessionCheck
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.session_store import SessionStore, session_hash, web_session
from tests.api.auth import obshell_wire
from tests.helpers.clock import FakeClock
from tests.api.auth.conftest import ROOT_PASSWORD, SESSION_TIMEOUT_S, Effects, assert_refused

COUNTER = "/api/v1/authtest/counter"


def login(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, password: str = ROOT_PASSWORD):
    headers, _, (key, iv) = obshell_wire.web_ui_keys(key_pair.public_key, clock(), "/api/v1/login", password,
                                                     login=True)
    return client.post("/api/v1/login", headers=headers), key, iv


def sign_in(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock) -> str:
    response, key, iv = login(client, key_pair, clock)
    assert response.status_code == 200, response.text
    return obshell_wire.aes_decrypt_text(key, iv, response.json()["data"])


def with_session(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, method: str, uri: str,
                 session_id: str, body: dict | None = None):
    """A request after a page reload: the web UI has lost the password and sends only the session."""
    headers, raw = obshell_wire.web_ui(key_pair.public_key, clock(), uri, "", body, session_id=session_id)
    return client.request(method, uri, headers=headers, content=raw or None)


def test_login_answers_the_session_id_encrypted_with_the_request_keys(client, key_pair, clock, session_engine):
    response, key, iv = login(client, key_pair, clock)
    data = response.json()["data"]
    assert isinstance(data, str) and not re.fullmatch(r"[0-9a-f]{64}", data)  # never in the clear
    session_id = obshell_wire.aes_decrypt_text(key, iv, data)
    assert re.fullmatch(r"[0-9a-f]{64}", session_id)
    with session_engine.connect() as conn:
        stored = [row.id_hash for row in conn.execute(select(web_session))]
    assert stored == [session_hash(session_id)]  # only a hash of the id is kept


def test_get_and_post_with_the_session_and_no_password_then_logout(client, key_pair, clock, effects: Effects):
    session_id = sign_in(client, key_pair, clock)
    got = with_session(client, key_pair, clock, "GET", f"{COUNTER}?step=2", session_id)
    assert got.status_code == 200 and got.json()["data"] == {"count": 2}
    posted = with_session(client, key_pair, clock, "POST", COUNTER, session_id, {"by": 3, "label": "by session"})
    assert posted.json()["data"] == {"count": 5, "kind": "session"}

    out = with_session(client, key_pair, clock, "POST", "/api/v1/logout", session_id, {"session_id": session_id})
    assert out.status_code == 200, out.text
    assert_refused(with_session(client, key_pair, clock, "GET", COUNTER, session_id), AuthFailure.SESSION_INVALID.value)
    assert effects.count == 5


def test_login_refuses_a_wrong_password_and_a_missing_keys(client, key_pair, clock):
    response, _, _ = login(client, key_pair, clock, password="wrong")
    assert_refused(response, AuthFailure.WRONG_ROOT_PASSWORD.value)
    headers, _ = obshell_wire.web_ui(key_pair.public_key, clock(), "/api/v1/login", ROOT_PASSWORD)  # no Keys
    refused = client.post("/api/v1/login", headers=headers).json()
    assert refused["status"] == 400 and refused["error"]["errCode"] == "Request.AESKey.NotFound"


def test_a_session_cannot_sign_in_again(client, key_pair, clock):
    """Login takes the password only: a header with just a session is a wrong (empty) password."""
    session_id = sign_in(client, key_pair, clock)
    headers, _, _ = obshell_wire.web_ui_keys(key_pair.public_key, clock(), "/api/v1/login", "", session_id=session_id,
                                             login=True)
    assert_refused(client.post("/api/v1/login", headers=headers), AuthFailure.WRONG_ROOT_PASSWORD.value)


def test_expiry_slides_with_use_and_an_idle_session_expires(client, key_pair, clock):
    session_id = sign_in(client, key_pair, clock)
    for _ in range(3):  # used every 400 s: each use moves the 600 s expiry on
        clock.advance(400)
        assert with_session(client, key_pair, clock, "GET", COUNTER, session_id).status_code == 200
    clock.advance(SESSION_TIMEOUT_S + 1)
    assert_refused(with_session(client, key_pair, clock, "GET", COUNTER, session_id), AuthFailure.SESSION_EXPIRED.value)


def test_a_session_may_end_only_itself_but_the_password_ends_any(client, key_pair, clock, sessions: SessionStore):
    mine, other = sign_in(client, key_pair, clock), sign_in(client, key_pair, clock)
    with_session(client, key_pair, clock, "POST", "/api/v1/logout", mine, {"session_id": other})
    assert sessions.check(other) is SessionCheck.VALID
    headers, raw = obshell_wire.web_ui(key_pair.public_key, clock(), "/api/v1/logout", ROOT_PASSWORD,
                                       {"session_id": other})
    assert client.post("/api/v1/logout", headers=headers, content=raw).status_code == 200
    assert sessions.check(other) is SessionCheck.INVALID
    assert sessions.check(mine) is SessionCheck.VALID


def test_a_session_made_on_one_agent_works_on_another(key_pair, clock, session_engine: Engine):
    """Sessions live in the cluster store: a second store over the same database accepts them."""
    first = SessionStore(lambda: session_engine, clock=clock)
    second = SessionStore(lambda: session_engine, clock=clock)
    session_id = first.create()
    assert second.check(session_id) is SessionCheck.VALID
    second.end(session_id)
    assert first.check(session_id) is SessionCheck.INVALID


def test_a_changed_password_ends_every_session(key_pair, clock, session_engine: Engine):
    store = SessionStore(lambda: session_engine, clock=clock)
    ids = [store.create() for _ in range(3)]
    assert store.end_all() == 3
    assert {store.check(i) for i in ids} == {SessionCheck.INVALID}


def test_sessions_without_the_cluster_store_are_a_clear_503(key_pair, clock, session_engine: Engine):
    engines: list[Engine | None] = [session_engine]
    store = SessionStore(lambda: engines[0], clock=clock)
    known = store.create()
    engines[0] = None  # the cluster store closed: a session seen valid keeps working until its expiry
    assert store.check(known) is SessionCheck.VALID
    try:
        store.check("f" * 64)
    except Exception as exc:  # noqa: BLE001 - the coded error is what is checked
        assert getattr(exc, "code", "") == "Security.Session.StoreUnavailable" and exc.status == 503
    else:
        raise AssertionError("an unknown session was accepted without the store")
