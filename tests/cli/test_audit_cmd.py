"""`pyobshell audit`: its table rows, summary text, JSON document and usage errors (no cluster)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pyobshell.cli import audit_cmd
from pyobshell.cli.audit_cmd import audit_rows, summary_text
from pyobshell.cli.main import app
from pyobshell.wire.audit import AuditRecord


def record(**fields) -> AuditRecord:
    base = dict(time="2024-05-01T12:00:00.250Z", time_ms=1714564800250, agent="10.0.0.1:2886", client="10.0.0.9",
                credential="password", method="POST", route="/api/v1/task/dag/{gid}", path="/api/v1/task/dag/11",
                summary={"gid": "11", "operator": "RETRY"}, status=200, trace_id="abc", dag_id="11")
    return AuditRecord(**{**base, **fields})


def test_a_row_shows_who_did_what_to_which_dag_and_how_it_ended() -> None:
    rows = audit_rows([record(), record(credential="", status=401, err_code="Security.Authentication.X", dag_id="",
                                        summary={}, forwarded_from="10.0.0.2:2886")])
    assert rows[0] == ("2024-05-01T12:00:00.250Z", "10.0.0.1:2886", "10.0.0.9", "password",
                       "POST /api/v1/task/dag/{gid}", "gid=11 operator=RETRY", 200, "", "11", "abc")
    assert rows[1][1] == "10.0.0.1:2886 (from 10.0.0.2:2886)" and rows[1][3] == "-" and rows[1][7:9] == (
        "Security.Authentication.X", "")


def test_the_summary_text_is_plain_and_short() -> None:
    assert summary_text({"version": "4.2.1.1", "pause_after_zones": ["z1", "z2"], "hold": True,
                         "slo": {"max_p99_ms": 1800}, "dir": None}) == \
        "version=4.2.1.1 pause_after_zones=z1,z2 hold=true slo={max_p99_ms:1800} dir="
    assert len(summary_text({"filename": "x" * 200})) == audit_cmd.MAX_SUMMARY


class FakeClient:
    asked: dict = {}

    def __init__(self, records):
        self.records = records

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None

    def audit(self, **query):
        FakeClient.asked = query
        return self.records


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OB_ROOT_PASSWORD", "pw")
    monkeypatch.setattr(audit_cmd, "connect", lambda agent: FakeClient([record()]))
    return CliRunner()


def test_json_is_one_document_of_the_records(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "--agent", "127.0.0.1:2886", "--dag", "11", "--since",
                                 "2024-05-01T00:00:00Z", "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    (document,) = json.loads(result.stdout)
    assert document["dag_id"] == "11" and document["summary"] == {"gid": "11", "operator": "RETRY"}
    assert FakeClient.asked == {"since": "2024-05-01T00:00:00Z", "dag": "11", "limit": 5}


def test_the_table_lists_the_records(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "--agent", "127.0.0.1:2886"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "audit trail (newest first):" in result.stdout and "gid=11 operator=RETRY" in result.stdout


@pytest.mark.parametrize("args, complaint", [
    (["--since", "yesterday"], "since: 'yesterday'"),
    (["--dag", "x1"], "dag: 'x1'"),
    (["--limit", "0"], "--limit"),
    (["--limit", "1001"], "--limit"),
])
def test_bad_options_are_usage_errors(runner: CliRunner, args: list[str], complaint: str) -> None:
    result = runner.invoke(app, ["audit", "--agent", "127.0.0.1:2886", *args])
    assert result.exit_code == 2 and complaint in result.output, result.output
