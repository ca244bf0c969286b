"""Which requests are recorded, and what one record says."""

from __future__ import annotations

import json

import pytest

from pyobshell.audit.records import Observation, build_record, should_record

AT_NS = 1_714_564_800_250_999_999  # 2024-05-01T12:00:00.250999999Z


@pytest.mark.parametrize("method, path, status, public, recorded", [
    ("POST", "/api/v1/ob/upgrade", 200, False, True),
    ("DELETE", "/api/v1/upgrade/package/3", 200, False, True),
    ("POST", "/api/v1/task/dag/11", 503, False, True),
    ("GET", "/api/v1/task/dag/11", 200, False, False),
    ("GET", "/api/v1/task/dag/11", 401, False, True),  # refused reads too
    ("GET", "/api/v1/audit", 400, False, True),
    ("GET", "/api/v1/task/dag/11", 503, False, False),
    ("POST", "/api/v1/status", 200, True, False),  # public, changes nothing
    ("POST", "/rpc/v1/task/sync", 200, False, False),  # agent to agent
    ("POST", "/rpc/v1/task/sync", 401, False, True),
    ("HEAD", "/api/v1/info", 200, True, False),
])
def test_state_changing_and_refused_requests_are_recorded(method, path, status, public, recorded) -> None:
    assert should_record(method, path, status, public) is recorded


def envelope(data=None, error=None) -> bytes:
    return json.dumps({"successful": error is None, "status": 200, "traceId": "t",
                       **({"data": data} if data is not None else {}),
                       **({"error": error} if error is not None else {})}).encode()


def test_a_created_dag_is_named_by_its_generic_id_from_the_answer() -> None:
    seen = Observation(method="post", path="/api/v1/ob/upgrade", route="/api/v1/ob/upgrade", status=200, at_ns=AT_NS,
                       agent="127.0.0.1:2886", client="10.0.0.9", credential="root_password", trace_id="abc",
                       body=b'{"version": "4.2.1.1", "release": "1.el7", "mode": "ROLLING", "upgradeDir": ""}',
                       answer=envelope(data={"id": "17", "dag_id": 7, "name": "OB rolling upgrade"}))
    record = build_record(seen)
    assert record.model_dump(exclude={"summary"}) == {
        "id": None, "time": "2024-05-01T12:00:00.250Z", "time_ms": 1_714_564_800_250, "agent": "127.0.0.1:2886",
        "client": "10.0.0.9", "credential": "password", "session_hash": "", "method": "POST",
        "route": "/api/v1/ob/upgrade", "path": "/api/v1/ob/upgrade", "status": 200, "err_code": "",
        "trace_id": "abc", "dag_id": "17", "forwarded_from": "", "forwarded_to": ""}
    assert record.summary == {"version": "4.2.1.1", "release": "1.el7", "mode": "ROLLING", "upgradeDir": ""}


def test_an_operated_dag_comes_from_the_path_and_a_failure_gives_its_err_code() -> None:
    seen = Observation(method="POST", path="/api/v1/task/dag/11", route="/api/v1/task/dag/{gid}", status=400,
                       at_ns=AT_NS, agent="a:1", credential="session", session_hash="ab" * 32,
                       body=b'{"operator": "RETRY"}', path_params={"gid": "11"},
                       answer=envelope(error={"errCode": "Task.Dag.Operator.NotAllowed", "message": "m"}),
                       notes={"forwarded_to": "10.0.0.2:2886"}, forwarded_from="")
    record = build_record(seen)
    assert (record.dag_id, record.err_code, record.credential, record.session_hash, record.forwarded_to) == \
        ("11", "Task.Dag.Operator.NotAllowed", "session", "ab" * 32, "10.0.0.2:2886")
    assert record.summary == {"gid": "11", "operator": "RETRY"}


def test_a_refusal_without_a_readable_answer_or_route_is_still_a_record() -> None:
    seen = Observation(method="GET", path="/api/v1/nowhere/" + "x" * 2000, route="/api/v1/nowhere/" + "x" * 2000,
                       status=404, at_ns=AT_NS, agent="a:1", answer=b"\xff not json")
    record = build_record(seen)
    assert (record.status, record.err_code, record.dag_id, record.credential) == (404, "", "", "")
    assert len(record.path) == 512 and record.summary == {}
