"""``GET /api/v1/ob/upgrade/report/{id}`` and ``GET /api/v1/ob/upgrade/verify`` in process: the
agent app with real request verification, a SQLite cluster store, scripted OceanBase answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pyobshell.api.app import create_app
from pyobshell.engine import DEFAULT_REGISTRY, StoreKind, TaskService, TaskStore
from pyobshell.api.state import AgentState
from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.upgrade.report import UpgradeReports, UpgradeReportStore
from pyobshell.upgrade.service import UpgradeService
from pyobshell.wire import report as names
from pyobshell.wire.report import ReportCheck, UpgradeReport
from tests.api.upgrade.conftest import no_statuses
from tests.upgrade.test_upgrade_report import OWNER
from tests.upgrade.test_verify import Scripted, healthy

PASSWORD = "report-root-pw"
BASE = "http://testserver"
KEPT = UpgradeReport(dag_id=3, id="13", target_version="4.2.1.1-101000062023110109.el7", ok=True,
                     created_at="2024-05-01T12:00:00.000Z",
                     checks=[ReportCheck(name=names.ONE_BUILD, ok=True, expected="4.2.1.1_101000062023110109",
                                         found="4.2.1.1_101000062023110109 on 127.0.1.1:2882")])


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[TaskService]:
    store = TaskStore(f"sqlite:///{tmp_path / 'ocs.db'}", StoreKind.CLUSTER, owner=OWNER)
    yield TaskService(store, DEFAULT_REGISTRY)
    store.close()


@pytest.fixture
def answers() -> dict:
    return healthy()


@pytest.fixture
def agent(tmp_path: Path, key_pair: AgentKeyPair, tasks: TaskService,
          answers: dict) -> Iterator[ObshellClient]:
    store = UpgradeReportStore(lambda: tasks.store.engine)
    store.save(KEPT)
    sql = Scripted(answers)
    reports = UpgradeReports(sql, lambda: tasks, store)
    security = AgentSecurity.create(key_pair, root_check=lambda pw: pw == PASSWORD)
    state = AgentState(ip="127.0.0.1", port=2886, home=tmp_path / "home", public_key=key_pair.public_key_b64,
                       security=security)
    state.upgrade = UpgradeService(lambda: None, sql, lambda: None, lambda: tasks, no_statuses, reports=reports)
    with TestClient(create_app(state), raise_server_exceptions=False) as http:
        yield ObshellClient(BASE, password=PASSWORD, http_client=http)


def test_a_kept_report_is_answered_by_its_dag_id(agent: ObshellClient) -> None:
    assert agent.upgrade_report("13") == KEPT
    raw = agent.request("GET", "/api/v1/ob/upgrade/report/13")
    assert raw["checks"][0] == {"name": "one_build", "ok": True, "expected": "4.2.1.1_101000062023110109",
                                "found": "4.2.1.1_101000062023110109 on 127.0.1.1:2882", "detail": ""}
    assert set(raw) == {"dag_id", "id", "target_version", "ok", "checks", "probe", "zone_durations", "created_at"}


@pytest.mark.parametrize("gid, status, code", [
    ("14", 404, "OB.Upgrade.Report.NotFound"),
    ("2212706305028860001", 404, "OB.Upgrade.Report.NotFound"),  # a local task of an agent: never an upgrade
    ("abc", 400, "Task.GenericID.Invalid"),
    ("1" + "9" * 30, 400, "Task.GenericID.Invalid"),
    ("1-1", 400, "Task.GenericID.Invalid"),
    ("10", 400, "Task.GenericID.Invalid"),
])
def test_no_report_is_a_404_and_a_bad_id_a_400_never_a_500(agent: ObshellClient, gid: str, status: int,
                                                           code: str) -> None:
    with pytest.raises(ObshellApiError) as caught:
        agent.upgrade_report(gid)
    assert (caught.value.status, caught.value.err_code) == (status, code)


def test_the_report_needs_the_password(agent: ObshellClient) -> None:
    anonymous = agent.raw_request("GET", "/api/v1/ob/upgrade/report/13", auth=False)
    assert (anonymous.status_code, anonymous.json()["error"]["errCode"]) == (400, "Request.Header.NotFound")
    assert "one_build" not in anonymous.text


def test_verify_runs_the_checks_now(agent: ObshellClient) -> None:
    report = agent.verify()
    assert report.ok and report.dag_id is None and [c.name for c in report.checks] == list(names.CHECK_NAMES)
    assert {c.name: c.found for c in report.checks}[names.TENANT_COMPATIBLE] == \
        "sys=4.2.1.1, META$1002=4.2.1.1, tenant1=4.2.1.1"


def test_verify_names_a_failing_check_and_a_broken_answer(agent: ObshellClient, answers: dict) -> None:
    answers["DBA_OB_ZONES"][2]["STATUS"] = "INACTIVE"
    answers["'min_observer_version'"][0]["VALUE"] = None
    report = agent.verify()
    assert not report.ok
    assert {c.name: c.detail for c in report.failed} == {
        names.ZONES_ACTIVE: "stopped: zone3",
        names.MIN_OBSERVER_VERSION: "unexpected answer: min_observer_version is NULL on 127.0.1.1:2882"}
