"""The OpenAPI document describes what the agent answers: every route's data inside obshell's
envelope (a list as ``{"contents": [...]}``), and every error as the error envelope."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pyobshell.api.errors import is_enveloped_path

REF = "#/components/schemas/"


def document(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def component(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    assert set(schema) == {"$ref"}, schema  # nothing merged beside the reference
    return doc["components"]["schemas"][schema["$ref"].removeprefix(REF)]


def operations(doc: dict[str, Any]):
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_time_is_a_string_inside_the_envelope(client: TestClient) -> None:
    doc = document(client)
    schema = doc["paths"]["/api/v1/time"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    envelope = component(doc, schema)
    assert envelope["properties"]["data"] == {"type": "string"}
    assert envelope["properties"]["successful"]["const"] is True
    assert set(envelope["required"]) == {"successful", "timestamp", "duration", "status", "traceId"}


def test_lists_are_documented_as_contents(client: TestClient) -> None:
    doc = document(client)
    responses = doc["paths"]["/api/v1/task/dags/agent"]["get"]["responses"]
    data = component(doc, responses["200"]["content"]["application/json"]["schema"])["properties"]["data"]
    assert data["type"] == "object" and data["required"] == ["contents"]
    assert data["properties"]["contents"]["items"] == {"$ref": REF + "DagDetailDTO"}


def test_every_operation_documents_its_errors_as_the_error_envelope(client: TestClient) -> None:
    doc = document(client)
    seen = 0
    for path, method, operation in operations(doc):
        if not is_enveloped_path(path):
            continue
        seen += 1
        responses = operation["responses"]
        assert "422" not in responses, (method, path)  # validation failures are 400 envelopes
        error = component(doc, responses["default"]["content"]["application/json"]["schema"])
        assert error["properties"]["successful"]["const"] is False and "error" in error["required"], (method, path)
        for status, response in responses.items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                component(doc, response["content"]["application/json"]["schema"])
    assert seen > 30
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_a_validation_failure_matches_the_documented_error(client: TestClient) -> None:
    answer = client.get("/api/v1/status?ob_query_timeout=0")
    assert answer.status_code == 400
    body = answer.json()
    assert body["successful"] is False and {"errCode", "message"} <= set(body["error"])
