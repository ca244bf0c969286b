from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pyobshell.agent.logs import configure_logging


def assert_error(response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status
    assert body["successful"] is False and body["status"] == status
    assert body["error"]["errCode"] == code
    assert "data" not in body
    assert isinstance(body["duration"], int)
    return body["error"]


@pytest.mark.parametrize("path", ["/api/v1/no/such/route", "/rpc/v1/nothing", "/api/v1"])
def test_unknown_route_is_common_not_found(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path), 404, "Common.NotFound")
    assert error["message"] == "Element not found: 404 not found"


def test_unknown_route_outside_the_api_is_plain_fastapi(client: TestClient) -> None:
    response = client.get("/elsewhere")
    assert response.status_code == 404 and "successful" not in response.json()


@pytest.mark.parametrize("method,path", [("PUT", "/api/v1/status"), ("DELETE", "/api/v1/info"), ("POST", "/api/v1/time")])
def test_wrong_method_is_an_enveloped_405(client: TestClient, method: str, path: str) -> None:
    error = assert_error(client.request(method, path), 405, "Common.MethodNotAllowed")
    assert method in error["message"] and path in error["message"]


def test_malformed_json_is_bind_json_failed(client: TestClient) -> None:
    response = client.post("/api/v1/test/echo", content=b'{"name": "a",', headers={"content-type": "application/json"})
    error = assert_error(response, 400, "Common.BindJsonFailed")
    assert error["message"].startswith("Bind JSON failed: malformed JSON")


def test_wrong_type_names_the_field(client: TestClient) -> None:
    error = assert_error(client.post("/api/v1/test/echo", json={"name": "a", "count": "many"}), 400, "Common.BindJsonFailed")
    assert "count" in error["message"]
    assert error["subErrors"] == [
        {"tag": "int_parsing", "field": "count", "message": "Input should be a valid integer, unable to parse string as an integer"}
    ]


def test_missing_field_names_the_field(client: TestClient) -> None:
    error = assert_error(client.post("/api/v1/test/echo", json={"count": 1}), 400, "Common.BindJsonFailed")
    assert "name: Field required" in error["message"]


def test_body_of_the_wrong_shape(client: TestClient) -> None:
    assert_error(client.post("/api/v1/test/echo", json=[1, 2]), 400, "Common.BindJsonFailed")


def test_bad_query_parameter_is_illegal_argument(client: TestClient) -> None:
    error = assert_error(client.get("/api/v1/status", params={"ob_query_timeout": "soon"}), 400, "Common.IllegalArgument")
    assert "ob_query_timeout" in error["message"]


def test_valid_body_round_trips(client: TestClient) -> None:
    body = client.post("/api/v1/test/echo", json={"name": "a", "count": 2}).json()
    assert body["successful"] is True and body["data"] == {"name": "a", "count": 2}


def test_obshell_error_keeps_its_status_and_code(client: TestClient) -> None:
    error = assert_error(client.get("/api/v1/test/not-found"), 404, "Task.NotFound")
    assert error["message"] == "Task not found: dag 7"


def test_a_database_that_does_not_answer_is_a_coded_error_naming_the_cause(client: TestClient) -> None:
    response = client.get("/api/v1/test/database-gone")
    error = assert_error(response, 503, "Common.DatabaseUnavailable")
    assert error["message"] == ("The database cannot serve the request now: "
                                "(2003, \"Can't connect to MySQL server on '10.0.0.1'\")")
    assert "Traceback" not in response.text and "SELECT 1" not in response.text


@pytest.mark.parametrize("path", ["/api/v1/test/boom", "/api/v1/test/boom-sync"])
def test_unexpected_exception_is_a_500_without_traceback(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"X-OBSHELL-Trace-ID": "t-500"})
    error = assert_error(response, 500, "Common.Unexpected")
    assert error["message"] == "Unexpected error: Internal Server Error"
    assert "secret-internal-detail" not in response.text and "Traceback" not in response.text
    assert response.json()["traceId"] == "t-500"


def test_unexpected_exception_is_logged_with_trace_id(client: TestClient, tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    handler = configure_logging(log_file)
    try:
        client.get("/api/v1/test/boom", headers={"X-OBSHELL-Trace-ID": "logged-trace"})
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    text = log_file.read_text()
    assert "trace=logged-trace" in text
    assert "secret-internal-detail" in text and "Traceback" in text
