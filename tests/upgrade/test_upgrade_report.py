"""The post-upgrade report: built from an upgrade DAG (its target, its parameter backup, its zone
times, the probe's figures), kept once per DAG in a cluster-store table (SQLite here), read back
by id, and written by the maintainer's keeper only once the DAG has ended SUCCEED."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from pyobshell.engine import (DEFAULT_REGISTRY, AgentInfo, Maintainer, Node, State, StoreKind, TaskContext,
                              TaskService, TaskStore, TemplateBuilder)
from pyobshell.errors import ObshellError
from pyobshell.upgrade.report import (ALL_ZONES, ReportKeeper, UpgradeReports, UpgradeReportStore, probe_summary,
                                      zone_durations)
from pyobshell.upgrade.tasks import BackupParametersTask, RestoreParametersTask
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.wire import report as names
from pyobshell.wire.report import ReportCheck, UpgradeReport
from pyobshell.wire.task import ZERO_TIME, DagDetailDTO, NodeDetailDTO
from tests.upgrade.test_verify import SAVED, Scripted, healthy

OWNER = AgentInfo("127.0.0.1", 2886)
DAG_NAME = "OB rolling upgrade 4.2.1.1-101000062023110109.el7"


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[TaskService]:
    store = TaskStore(f"sqlite:///{tmp_path / 'ocs.db'}", StoreKind.CLUSTER, owner=OWNER)
    yield TaskService(store, DEFAULT_REGISTRY)
    store.close()


def upgrade_dag(tasks: TaskService, name: str = DAG_NAME) -> DagDetailDTO:
    template = (TemplateBuilder(name).set_maintenance(Maintainer.global_())
                .add_node(Node(BackupParametersTask())).add_node(Node(RestoreParametersTask())).build())
    context = TaskContext(params={ctx.VERSION: "4.2.1.1", ctx.BUILD_NUMBER: "101000062023110109",
                                  ctx.RELEASE_DISTRIBUTION: "101000062023110109.el7"})
    return tasks.create_dag(template, context)


def write_subtask_param(tasks: TaskService, dag_id: int, stage: int, key: str, value) -> None:
    store = tasks.store
    with store.engine.begin() as conn:
        node = next(n for n in store.nodes_of_dag(conn, dag_id) if n.dag_stage == stage)
        (task,) = store.subtasks_of_node(conn, node.id)
        context = task.context.clone()
        context.set_param(key, value)
        conn.execute(update(store.tables.subtask).where(store.tables.subtask.c.id == task.id)
                     .values(context=context.to_json()))


def end_dag(tasks: TaskService, dag_id: int, state: State = State.SUCCEED) -> None:
    store = tasks.store
    with store.engine.begin() as conn:
        conn.execute(update(store.tables.dag).where(store.tables.dag.c.id == dag_id)
                     .values(state=int(state), is_finished=True))


@pytest.fixture
def report_store(tasks: TaskService) -> UpgradeReportStore:
    return UpgradeReportStore(lambda: tasks.store.engine)


def reports_of(tasks: TaskService, store: UpgradeReportStore, answers: dict | None = None) -> UpgradeReports:
    probe = {"total": {"samples": 40, "errors": 1, "success_pct": 97.5, "p99_ms": 12.0},
             "zones": [{"zone": "zone1", "samples": 20}], "running": False}
    return UpgradeReports(Scripted(answers or healthy()), lambda: tasks, store, lambda dag_id: probe)


def test_the_parameter_backup_is_read_from_the_sub_task_that_produced_it(tasks: TaskService) -> None:
    dag = upgrade_dag(tasks)
    assert tasks.produced_param(dag.dag_id, ctx.OB_PARAMETERS) is None
    write_subtask_param(tasks, dag.dag_id, 1, ctx.OB_PARAMETERS, SAVED)
    assert tasks.produced_param(dag.dag_id, ctx.OB_PARAMETERS) == SAVED
    write_subtask_param(tasks, dag.dag_id, 2, ctx.OB_PARAMETERS, SAVED[:1])  # a later stage's value wins
    assert tasks.produced_param(dag.dag_id, ctx.OB_PARAMETERS) == SAVED[:1]


def test_a_report_is_kept_once_per_dag_and_read_back(report_store: UpgradeReportStore) -> None:
    first = UpgradeReport(dag_id=7, id="17", ok=False, created_at="2024-05-01T12:00:00.000Z",
                          checks=[ReportCheck(name=names.UPGRADE_MODE_OFF, ok=False, found="True")])
    assert report_store.load(7) is None
    assert report_store.save(first) is True
    assert report_store.save(first.model_copy(update={"ok": True, "checks": []})) is False  # the first one stays
    assert report_store.load(7) == first
    assert UpgradeReportStore(lambda: None).save(first) is False and UpgradeReportStore(lambda: None).load(7) is None


def node(name: str, start: str, end: str) -> NodeDetailDTO:
    return NodeDetailDTO(id="1", node_id=1, name=name, state="SUCCEED", operator="RUN", start_time=start, end_time=end)


def dag_with(nodes: list[NodeDetailDTO]) -> DagDetailDTO:
    return DagDetailDTO(id="11", dag_id=1, name=DAG_NAME, stage=1, max_stage=len(nodes), maintenance_type=1,
                        maintenance_key="", state="SUCCEED", operator="RUN", start_time=ZERO_TIME, end_time=ZERO_TIME,
                        nodes=nodes)


def test_zone_durations_run_from_the_stop_to_the_start_and_add_up_over_hops() -> None:
    t = "2024-05-01T12:00:{:02d}Z".format
    nodes = [node("Execute upgrade health checker script", t(0), t(1)), node("Stop zone1", t(1), t(2)),
             node("Reinstall and restart observer", t(2), t(8)), node("Start zone1", t(9), t(10)),
             node("Stop zone2", t(11), t(12)), node("Reinstall and restart observer", t(12), t(14)),
             node("Start zone2", t(14), t(15)),
             node("Stop zone1", t(20), t(21)), node("Start zone1", t(22), t(23))]  # a second hop
    durations = {d.zone: d for d in zone_durations(dag_with(nodes))}
    assert {zone: d.seconds for zone, d in durations.items()} == {"zone1": 12.0, "zone2": 4.0}
    assert (durations["zone1"].start_time, durations["zone1"].end_time) == ("2024-05-01T12:00:01.000Z",
                                                                            "2024-05-01T12:00:23.000Z")
    stop_service = [node("Reinstall and restart observer", t(3), t(9)), node("Stop zone9", ZERO_TIME, ZERO_TIME)]
    assert [(d.zone, d.seconds) for d in zone_durations(dag_with(stop_service))] == [(ALL_ZONES, 6.0)]


def test_the_probe_summary_is_taken_when_it_can_be_read() -> None:
    summary = probe_summary({"total": {"samples": 4, "errors": 0}, "zones": [{"zone": "z1", "samples": 4}]})
    assert summary is not None and summary.total.samples == 4 and summary.zones[0].zone == "z1"
    assert probe_summary(None) is None and probe_summary({"total": "x"}) is None
    assert probe_summary({"total": {"samples": "many"}}) is None


def test_a_report_holds_the_checks_against_the_dags_target_and_backup(tasks, report_store) -> None:
    dag = upgrade_dag(tasks)
    write_subtask_param(tasks, dag.dag_id, 1, ctx.OB_PARAMETERS, SAVED)
    report = reports_of(tasks, report_store).build(dag.dag_id)
    assert report.ok, report.failed
    assert (report.dag_id, report.id, report.target_version) == (dag.dag_id, dag.id, "4.2.1.1-101000062023110109.el7")
    assert [c.name for c in report.checks] == list(names.CHECK_NAMES)
    checks = {c.name: c for c in report.checks}
    assert checks[names.ONE_BUILD].expected == "4.2.1.1_101000062023110109"
    assert checks[names.PARAMETERS_RESTORED].found == "9 of 9 values as backed up"
    assert report.probe is not None and report.probe.total.samples == 40


def test_the_route_ids_bad_local_and_unknown(tasks, report_store) -> None:
    reports = reports_of(tasks, report_store)
    for gid, code in (("abc", "Task.GenericID.Invalid"), ("10", "Task.GenericID.Invalid"),
                      ("2212706305028860001", "OB.Upgrade.Report.NotFound"), ("15", "OB.Upgrade.Report.NotFound")):
        with pytest.raises(ObshellError) as caught:
            reports.report(gid)
        assert caught.value.code == code, gid
    assert caught.value.status == 404 and "'pyobshell cluster verify'" in caught.value.message


def test_verify_now_compares_with_the_latest_upgrade_only_when_it_succeeded(tasks, report_store) -> None:
    answers = healthy()
    for row in answers["DBA_OB_SERVERS"]:
        row["BUILD_VERSION"] = "4.2.1.0_100000012023101010-ab(Oct 10 2023 10:10:10)"
    for key in ("'min_observer_version'",):
        for row in answers[key]:
            row["VALUE"] = "4.2.1.0"
    for row in answers["__all_virtual_tenant_parameter_info"]:
        row["VALUE"] = "4.2.1.0"
    for row in answers["__all_virtual_core_table"]:
        row["COLUMN_VALUE"] = str(4 << 32 | 2 << 16 | 1 << 8)
    reports = reports_of(tasks, report_store, answers)
    alone = reports.verify_now()  # no DAG at all: the cluster agrees with itself
    assert alone.ok and alone.dag_id is None and alone.target_version == "" and alone.probe is None
    dag = upgrade_dag(tasks)
    assert reports.verify_now().ok  # running: not held against its target yet
    end_dag(tasks, dag.dag_id)
    after = reports.verify_now()
    assert after.dag_id == dag.dag_id and after.target_version == "4.2.1.1-101000062023110109.el7"
    assert {c.name for c in after.failed} == {names.ONE_BUILD, names.MIN_OBSERVER_VERSION, names.TENANT_COMPATIBLE,
                                              names.TENANT_DATA_VERSION}


class Maintainer_:
    def __init__(self) -> None:
        self.is_maintainer = True

    def __call__(self) -> bool:
        return self.is_maintainer


def test_the_keeper_writes_the_report_once_when_the_upgrade_has_succeeded(tasks, report_store) -> None:
    role = Maintainer_()
    keeper = ReportKeeper(reports_of(tasks, report_store), role, settle_s=0)
    assert keeper.keep_once() is None  # no DAG
    dag = upgrade_dag(tasks)
    assert keeper.keep_once() is None and report_store.load(dag.dag_id) is None  # still running
    end_dag(tasks, dag.dag_id)
    role.is_maintainer = False
    assert keeper.keep_once() is None and report_store.load(dag.dag_id) is None  # only the maintainer writes
    role.is_maintainer = True
    assert keeper.keep_once() == dag.dag_id
    kept = report_store.load(dag.dag_id)
    assert kept is not None and kept.ok and kept.dag_id == dag.dag_id
    assert keeper.keep_once() is None  # once
    other = ReportKeeper(reports_of(tasks, report_store), role, settle_s=0)  # a new maintainer after failover
    assert other.keep_once() is None and report_store.load(dag.dag_id) == kept


@pytest.mark.parametrize("name, state", [(DAG_NAME, State.FAILED), ("Some other maintenance", State.SUCCEED)])
def test_the_keeper_leaves_failed_upgrades_and_other_dags_alone(tasks, report_store, name, state) -> None:
    dag = upgrade_dag(tasks, name)
    end_dag(tasks, dag.dag_id, state)
    keeper = ReportKeeper(reports_of(tasks, report_store), lambda: True, settle_s=0)
    assert keeper.keep_once() is None and report_store.load(dag.dag_id) is None


def test_the_keeper_checks_a_failing_check_again_before_it_keeps_the_report(tasks, report_store) -> None:
    answers = healthy()
    answers["'enable_upgrade_mode'"][0]["VALUE"] = "True"
    dag = upgrade_dag(tasks)
    end_dag(tasks, dag.dag_id)
    reports = reports_of(tasks, report_store, answers)
    builds = []
    original = reports.build
    reports.build = lambda dag_id: builds.append(dag_id) or original(dag_id)
    keeper = ReportKeeper(reports, lambda: True, settle_s=0.2, retry_s=0.05)
    assert keeper.keep_once() == dag.dag_id
    assert len(builds) >= 2  # checked again while the cluster settles
    kept = report_store.load(dag.dag_id)
    assert kept is not None and not kept.ok and [c.name for c in kept.failed] == [names.UPGRADE_MODE_OFF]
