"""The audit trail of an agent app: what its middleware records for state-changing and refused
requests (credential kind, session hash, route, summary, status, errCode, trace id, DAG id,
forwarding), what ``GET /api/v1/audit`` answers, and that no secret reaches either copy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pyobshell.audit.journal import AuditJournal
from pyobshell.audit.store import AuditStore, audit_log
from pyobshell.audit.trail import AuditTrail
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.request_builder import RequestBuilder
from pyobshell.security.request_header import ForwardAgent, ForwardType
from tests.api.auth import obshell_wire
from tests.api.auth.conftest import ROOT_PASSWORD
from tests.api.auth.test_sessions import sign_in, with_session
from tests.helpers.clock import FakeClock

COUNTER = "/api/v1/authtest/counter"
AUDIT = "/api/v1/audit"


@pytest.fixture
def trail(app: FastAPI, session_engine: Engine, tmp_path: Path) -> Iterator[AuditTrail]:
    trail = AuditTrail(AuditStore(lambda: session_engine), AuditJournal.in_log_dir(tmp_path / "log"))
    app.state.agent.audit = trail
    yield trail
    trail.close()


def send(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, method: str, uri: str, body: dict | None = None,
         password: str = ROOT_PASSWORD, trace: str = ""):
    headers, raw = obshell_wire.sdk_v2(key_pair.public_key, clock(), uri, password, body)
    if trace:
        headers["X-OBSHELL-Trace-ID"] = trace
    return client.request(method, uri, headers=headers, content=raw or None)


def read_trail(client: TestClient, key_pair: AgentKeyPair, clock: FakeClock, trail: AuditTrail, query: str = "") -> list:
    assert trail.flush(10)
    answer = send(client, key_pair, clock, "GET", AUDIT + query)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["contents"]


def test_refusals_and_changes_are_recorded_reads_are_not(client, key_pair, clock, trail) -> None:
    assert send(client, key_pair, clock, "POST", COUNTER, {"by": 2, "label": "x"}, trace="t-ok").status_code == 200
    assert send(client, key_pair, clock, "GET", COUNTER).status_code == 200  # a read: not recorded
    wrong = send(client, key_pair, clock, "POST", COUNTER, {"by": 1, "label": "y"}, password="guess", trace="t-wrong")
    assert wrong.status_code == 401
    invalid = send(client, key_pair, clock, "POST", COUNTER, {"by": "many", "label": "z"})
    assert invalid.status_code == 400
    assert client.get(COUNTER).status_code == 400  # no header at all: refused
    operated = send(client, key_pair, clock, "POST", "/api/v1/task/dag/11", {"operator": "RETRY"})
    assert operated.status_code == 503  # no task engine here: still an operator request

    records = read_trail(client, key_pair, clock, trail)
    assert [(r["method"], r["route"], r["status"]) for r in records] == [
        ("POST", "/api/v1/task/dag/{gid}", 503), ("GET", COUNTER, 400), ("POST", COUNTER, 400),
        ("POST", COUNTER, 401), ("POST", COUNTER, 200)]
    op, missing, bad, refused, ok = records
    assert (op["summary"], op["dag_id"], op["err_code"], op["path"]) == (
        {"gid": "11", "operator": "RETRY"}, "11", "Task.Engine.Unavailable", "/api/v1/task/dag/11")
    assert (missing["credential"], missing["err_code"]) == ("", "Request.Header.NotFound")
    assert (bad["credential"], bad["err_code"]) == ("password", "Common.BindJsonFailed")
    assert (refused["credential"], refused["err_code"], refused["trace_id"]) == (
        "password", "Security.Authentication.IncorrectOceanbasePassword", "t-wrong")
    assert (ok["credential"], ok["status"], ok["err_code"], ok["trace_id"], ok["client"], ok["agent"]) == (
        "password", 200, "", "t-ok", "testclient", "127.0.0.1:2886")
    assert ok["time"].endswith("Z") and ok["time_ms"] >= refused["time_ms"] - 1000


def test_sessions_are_named_by_their_hash_and_no_secret_is_kept(client, key_pair, clock, trail, session_engine,
                                                                tmp_path) -> None:
    session_id = sign_in(client, key_pair, clock)
    posted = with_session(client, key_pair, clock, "POST", COUNTER, session_id, {"by": 1, "label": "s"})
    assert posted.status_code == 200
    out = with_session(client, key_pair, clock, "POST", "/api/v1/logout", session_id, {"session_id": session_id})
    assert out.status_code == 200
    again = with_session(client, key_pair, clock, "POST", COUNTER, session_id, {"by": 1, "label": "s"})
    assert again.status_code == 401

    digest = hashlib.sha256(session_id.encode()).hexdigest()
    records = read_trail(client, key_pair, clock, trail)
    assert [(r["route"], r["credential"], r["session_hash"], r["status"]) for r in records] == [
        (COUNTER, "session", digest, 401), ("/api/v1/logout", "session", digest, 200),
        (COUNTER, "session", digest, 200), ("/api/v1/login", "password", "", 200)]
    assert records[1]["summary"] == {"session_hash": digest}
    assert records[0]["err_code"] == "Security.Authentication.SessionInvalid"

    with session_engine.connect() as conn:
        rows = json.dumps([dict(row) for row in conn.execute(select(audit_log)).mappings()], default=str)
    journal = (tmp_path / "log" / "audit.jsonl").read_text()
    for copy in (rows, journal, json.dumps(records)):
        assert session_id not in copy and ROOT_PASSWORD not in copy
        assert digest in copy


def test_a_forwarded_request_is_marked_with_the_agent_that_sent_it(client, key_pair, clock, trail) -> None:
    built = RequestBuilder(key_pair.public_key, clock=clock).build(
        COUNTER, json.dumps({"by": 1, "label": "f"}).encode(), password=ROOT_PASSWORD,
        forward_type=ForwardType.MANUAL_FORWARD, forward_agent=ForwardAgent(ip="10.0.0.7", port=2886))
    headers = {**built.headers, "X-OBSHELL-Trace-ID": "t-fwd", "Content-Type": "application/json"}
    assert client.post(COUNTER, headers=headers, content=built.body).status_code == 200
    (record,) = read_trail(client, key_pair, clock, trail)
    assert (record["forwarded_from"], record["trace_id"]) == ("10.0.0.7:2886", "t-fwd")


@pytest.mark.parametrize("query, complaint", [
    ("?since=yesterday", "since: 'yesterday'"),
    ("?limit=0", "limit"),
    ("?limit=1001", "limit"),
    ("?limit=many", "limit"),
    ("?dag=abc", "dag: 'abc'"),
])
def test_bad_audit_queries_are_a_clear_400(client, key_pair, clock, trail, query: str, complaint: str) -> None:
    answer = send(client, key_pair, clock, "GET", AUDIT + query)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["errCode"] in ("Common.IllegalArgument",) and complaint in error["message"], error


def test_audit_queries_filter_by_dag_time_and_limit(client, key_pair, clock, trail) -> None:
    for gid in ("11", "12", "11"):
        send(client, key_pair, clock, "POST", f"/api/v1/task/dag/{gid}", {"operator": "PASS"})
    every = read_trail(client, key_pair, clock, trail)
    assert [r["dag_id"] for r in read_trail(client, key_pair, clock, trail, "?dag=11")] == ["11", "11"]
    assert len(read_trail(client, key_pair, clock, trail, "?limit=1")) == 1
    newest = every[0]
    since = read_trail(client, key_pair, clock, trail, f"?since={newest['time_ms']}")
    assert newest["id"] in [r["id"] for r in since]
    assert read_trail(client, key_pair, clock, trail, "?since=2999-01-01T00:00:00Z") == []


def test_an_audit_that_fails_never_fails_the_request(client, key_pair, clock, app, trail) -> None:
    def broken(record) -> None:
        raise RuntimeError("audit is broken")

    trail.submit = broken  # type: ignore[method-assign]
    answer = send(client, key_pair, clock, "POST", COUNTER, {"by": 1, "label": "x"})
    assert answer.status_code == 200 and answer.json()["data"]["count"] == 1


def test_the_audit_route_needs_a_credential(client, trail) -> None:
    answer = client.get(AUDIT)
    assert answer.status_code == 400 and answer.json()["error"]["errCode"] == "Request.Header.NotFound"
