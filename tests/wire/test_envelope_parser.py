"""The one envelope parser (client, agent-to-agent calls, peer statuses)."""

from __future__ import annotations

import json

import pytest

from pyobshell.wire.envelope import NOT_AN_ENVELOPE, EnvelopeError, envelope_data


def reply(**fields) -> bytes:
    return json.dumps({"successful": True, "timestamp": "t", "duration": 0, "status": 200, "traceId": "tr",
                       **fields}).encode()


def test_data_of_a_success():
    assert envelope_data(200, reply(data={"contents": [1]})) == {"contents": [1]}
    assert envelope_data(200, reply()) is None


def test_an_error_keeps_every_field():
    body = reply(successful=False, status=401, error={"code": 1, "errCode": "Security.Authentication.Header.DecryptFailed",
                                                      "message": "Unauthorized: decrypt", "subErrors": [{"field": "x"}]})
    with pytest.raises(EnvelopeError) as caught:
        envelope_data(401, body)
    error = caught.value
    assert (error.err_code, error.old_code, error.status, error.trace_id) == (
        "Security.Authentication.Header.DecryptFailed", 1, 401, "tr")
    assert error.sub_errors == [{"field": "x"}] and "decrypt" in str(error)


def test_an_old_agent_with_only_a_numeric_code():
    with pytest.raises(EnvelopeError) as caught:
        envelope_data(401, reply(successful=False, status=401, error={"code": 10008, "message": "no"}))
    assert (caught.value.err_code, caught.value.old_code) == ("10008", 10008)


@pytest.mark.parametrize("content", [b"", b"<html>502</html>", b"[]", b'{"data": 1}'])
def test_something_that_is_not_an_envelope(content):
    with pytest.raises(EnvelopeError) as caught:
        envelope_data(502, content)
    assert caught.value.err_code == NOT_AN_ENVELOPE and caught.value.status == 502


def test_a_success_flag_with_an_error_status_is_an_error():
    with pytest.raises(EnvelopeError):
        envelope_data(500, reply())
