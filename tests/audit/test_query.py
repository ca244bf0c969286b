"""``since``, ``dag`` and ``limit`` of the audit trail: what is accepted, and clear refusals."""

from __future__ import annotations

import pytest

from pyobshell.audit.query import AuditQuery, AuditQueryError, parse_since
from pyobshell.errors import ObshellError


@pytest.mark.parametrize("text, expected", [
    ("1714564800000", 1714564800000),
    ("2024-05-01T12:00:00Z", 1714564800000),
    ("2024-05-01T12:00:00", 1714564800000),  # no zone: UTC
    ("2024-05-01T14:00:00+02:00", 1714564800000),
    ("2024-05-01T12:00:00.250Z", 1714564800250),
    ("2024-05-01", 1714521600000),
    ("  ", None),
    (None, None),
])
def test_since_takes_epoch_milliseconds_or_iso_8601(text, expected) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("since, dag, limit, complaint", [
    ("yesterday", None, None, "since: 'yesterday' is neither epoch milliseconds nor an ISO-8601 time"),
    ("-5", None, None, "since: '-5'"),
    ("9" * 16, None, None, "too far in the future"),
    ("99999-01-01", None, None, "since:"),
    (None, "1a", None, "dag: '1a' is not a DAG id"),
    (None, "1" * 33, None, "dag:"),
    (None, "١٢", None, "dag:"),  # Arabic-Indic digits are digits to str.isdigit
    (None, None, 0, "limit: 0 is not between 1 and 1000"),
    (None, None, 1001, "limit: 1001"),
    (None, None, "ten", "limit: 'ten'"),
])
def test_bad_values_are_refused_naming_the_parameter(since, dag, limit, complaint) -> None:
    with pytest.raises(AuditQueryError, match=None) as caught:
        AuditQuery.parse(since, dag, limit)
    assert complaint in str(caught.value)


def test_the_http_layer_gets_a_400_illegal_argument() -> None:
    with pytest.raises(ObshellError) as caught:
        AuditQuery.from_request("soon", None, 10)
    assert (caught.value.status, caught.value.code) == (400, "Common.IllegalArgument")
    assert "since: 'soon'" in caught.value.message
    assert AuditQuery.from_request(None, " 11 ", 5) == AuditQuery(None, "11", 5)
    assert AuditQuery.parse() == AuditQuery(None, "", 100)
