from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient

from pyobshell.api.envelope import rfc3339_nano, wrap_data

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$")
ENVELOPE_KEYS = ["successful", "timestamp", "duration", "status", "traceId"]


def test_timestamp_has_nanoseconds_and_offset() -> None:
    stamp = rfc3339_nano(1_700_000_000_123_456_789)
    assert RFC3339_NANO.match(stamp), stamp
    assert ".123456789" in stamp
    microsecond_form = stamp[:26] + stamp[29:]  # Python parses at most 6 fractional digits
    assert datetime.fromisoformat(microsecond_form).timestamp() == 1_700_000_000.123456


def test_lists_are_wrapped_in_contents() -> None:
    assert wrap_data([1, 2]) == {"contents": [1, 2]}
    assert wrap_data({"a": 1}) == {"a": 1}


def test_success_envelope_keys_in_order(client: TestClient) -> None:
    response = client.get("/api/v1/info")
    body = response.json()
    assert list(body) == ENVELOPE_KEYS + ["data"]
    assert body["successful"] is True and body["status"] == response.status_code == 200
    assert RFC3339_NANO.match(body["timestamp"])
    assert isinstance(body["duration"], int) and body["duration"] >= 0
    assert response.headers["content-type"] == "application/json"


def test_list_data_is_contents(client: TestClient) -> None:
    assert client.get("/api/v1/test/list").json()["data"] == {"contents": [1, 2, 3]}


def test_no_data_means_no_data_key(client: TestClient) -> None:
    body = client.get("/api/v1/test/nothing").json()
    assert body["successful"] is True and "data" not in body and "error" not in body


def test_trace_id_is_echoed(client: TestClient) -> None:
    body = client.get("/api/v1/info", headers={"X-OBSHELL-Trace-ID": "trace-from-client"}).json()
    assert body["traceId"] == "trace-from-client"


def test_trace_id_is_generated_as_16_hex(client: TestClient) -> None:
    ids = {client.get("/api/v1/info").json()["traceId"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


def test_status_keeps_an_empty_trace_id(client: TestClient) -> None:
    assert client.get("/api/v1/status").json()["traceId"] == ""


def test_openapi_documents_the_envelope(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schema = document["paths"]["/api/v1/info"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    envelope = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert {"successful", "timestamp", "duration", "status", "traceId", "data"} <= set(envelope["properties"])
    error = document["paths"]["/api/v1/info"]["get"]["responses"]["default"]["content"]["application/json"]["schema"]
    assert "error" in document["components"]["schemas"][error["$ref"].rsplit("/", 1)[1]]["properties"]
    assert client.get("/docs").status_code == 200
