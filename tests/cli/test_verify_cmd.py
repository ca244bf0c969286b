"""`pyobshell cluster verify` and the report in `pyobshell task show`: the table, the JSON document
and the exit codes (no cluster: the client is replaced)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pyobshell.cli import cluster_cmd, task_cmd
from pyobshell.cli.main import app
from pyobshell.cli.report_view import check_rows, headline
from pyobshell.client import ObshellApiError
from pyobshell.wire import report as names
from pyobshell.wire.probe import ProbeFigures
from pyobshell.wire.report import ProbeSummary, ReportCheck, UpgradeReport, ZoneDuration
from pyobshell.wire.task import DagDetailDTO, NodeDetailDTO

AGENT = ["--agent", "127.0.0.1:2886"]


def report(*failing: str) -> UpgradeReport:
    checks = [ReportCheck(name=name, ok=name not in failing, expected="False on every server" if
                          name == names.UPGRADE_MODE_OFF else "4.2.1.1",
                          found="True on 127.0.1.1:2882" if name in failing else "ok",
                          detail="enable_upgrade_mode is not False on 127.0.1.1:2882" if name in failing else "")
              for name in names.CHECK_NAMES]
    return UpgradeReport(dag_id=1, id="11", target_version="4.2.1.1-101000062023110109.el7", ok=not failing,
                         checks=checks, created_at="2024-05-01T12:00:00.000Z",
                         probe=ProbeSummary(total=ProbeFigures(samples=400, errors=0, p99_ms=4.0)),
                         zone_durations=[ZoneDuration(zone="zone1", seconds=7.5, start_time="a", end_time="b")])


class FakeClient:
    def __init__(self, answer: UpgradeReport | Exception, dag: DagDetailDTO | None = None):
        self.answer, self.dag_dto, self.asked = answer, dag, []

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None

    def _reply(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def verify(self):
        return self._reply()

    def upgrade_report(self, gid):
        self.asked.append(gid)
        return self._reply()

    def dag(self, gid, show_details=True):
        return self.dag_dto


def dag(state: str = "SUCCEED", gid: str = "11") -> DagDetailDTO:
    nodes = [NodeDetailDTO(id="12", node_id=2, name="Stop zone1", state=state, operator="RUN",
                           start_time="2024-05-01T12:00:00Z", end_time="2024-05-01T12:00:01Z")]
    return DagDetailDTO(id=gid, dag_id=1, name="OB rolling upgrade 4.2.1.1-101000062023110109.el7", stage=1,
                        max_stage=1, maintenance_type=1, maintenance_key="", state=state, operator="RUN",
                        start_time="2024-05-01T12:00:00Z", end_time="2024-05-01T12:00:01Z", nodes=nodes)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OB_ROOT_PASSWORD", "pw")
    return CliRunner()


def use(monkeypatch: pytest.MonkeyPatch, module, client: FakeClient) -> FakeClient:
    monkeypatch.setattr(module, "connect", lambda agent: client)
    return client


def test_rows_and_headline_name_what_failed() -> None:
    failed = report(names.UPGRADE_MODE_OFF)
    rows = check_rows(failed)
    assert rows[list(names.CHECK_NAMES).index(names.UPGRADE_MODE_OFF)] == (
        "upgrade_mode_off", "FAILED", "False on every server", "True on 127.0.1.1:2882",
        "enable_upgrade_mode is not False on 127.0.1.1:2882")
    assert headline(failed).endswith("1 of 8 checks FAILED: upgrade_mode_off")
    assert "all 8 checks passed" in headline(report()) and "target 4.2.1.1-101000062023110109.el7" in headline(report())


def test_verify_prints_the_checks_and_exits_0_when_all_pass(runner, monkeypatch) -> None:
    use(monkeypatch, cluster_cmd, FakeClient(report()))
    result = runner.invoke(app, ["cluster", "verify", *AGENT], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "post-upgrade checks:" in result.stdout and "all 8 checks passed" in result.stdout
    for name in names.CHECK_NAMES:
        assert f"  {name} " in result.stdout
    assert "What clients saw (SQL probe, 400 statements, 0 failed)" in result.stdout
    assert "time out of service:" in result.stdout and "zone1" in result.stdout


def test_verify_exits_1_naming_the_failed_check(runner, monkeypatch) -> None:
    use(monkeypatch, cluster_cmd, FakeClient(report(names.UPGRADE_MODE_OFF)))
    result = runner.invoke(app, ["cluster", "verify", *AGENT], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "checks FAILED: upgrade_mode_off" in result.stdout
    assert "FAILED  False on every server" in result.stdout


def test_verify_json_is_the_report_and_keeps_the_exit_code(runner, monkeypatch) -> None:
    use(monkeypatch, cluster_cmd, FakeClient(report(names.ZONES_ACTIVE)))
    result = runner.invoke(app, ["cluster", "verify", *AGENT, "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False and [c["name"] for c in document["checks"] if not c["ok"]] == ["zones_active"]
    use(monkeypatch, cluster_cmd, FakeClient(report()))
    result = runner.invoke(app, ["cluster", "verify", *AGENT, "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True


def test_an_agent_error_is_one_line_and_exit_1(runner, monkeypatch) -> None:
    use(monkeypatch, cluster_cmd, FakeClient(ObshellApiError("Task.Engine.Unavailable", "not open yet", 503, "t1")))
    result = runner.invoke(app, ["cluster", "verify", *AGENT])
    assert result.exit_code == 1 and "not open yet [errCode Task.Engine.Unavailable, traceId t1]" in result.stderr


def test_task_show_prints_the_report_of_a_succeeded_upgrade(runner, monkeypatch) -> None:
    client = use(monkeypatch, task_cmd, FakeClient(report(names.UPGRADE_MODE_OFF), dag()))
    result = runner.invoke(app, ["task", "show", "11", *AGENT], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output  # showing a task succeeds; the report says what failed
    assert client.asked == ["11"]
    assert "post-upgrade report:" in result.stdout and "checks FAILED: upgrade_mode_off" in result.stdout
    result = runner.invoke(app, ["task", "show", "11", *AGENT, "--json"])
    document = json.loads(result.stdout)
    assert document["id"] == "11" and document["upgrade_report"]["checks"][6]["ok"] is False


def test_task_show_without_a_report(runner, monkeypatch) -> None:
    missing = ObshellApiError("OB.Upgrade.Report.NotFound", "none", 404, "")
    use(monkeypatch, task_cmd, FakeClient(missing, dag()))
    result = runner.invoke(app, ["task", "show", "11", *AGENT])
    assert result.exit_code == 0 and "post-upgrade report" not in result.stdout and not result.stderr
    result = runner.invoke(app, ["task", "show", "11", *AGENT, "--json"])
    assert "upgrade_report" not in json.loads(result.stdout)
    client = use(monkeypatch, task_cmd, FakeClient(report(), dag(state="RUNNING")))
    runner.invoke(app, ["task", "show", "11", *AGENT])
    assert client.asked == []  # a running task has no report to ask for
