"""The SQL-driven tasks against a scripted observer: parameters, zones, minor freeze, scripts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.upgrade.tasks.task_fakes import FakeObserver, run_task, sql_error

from pyobshell.engine import TaskContext
from pyobshell.errors import ObshellError
from pyobshell.upgrade.tasks import (
    BackupParametersTask,
    ExecPreScriptTask,
    ExecScriptTask,
    MinorFreezeTask,
    RestoreParametersTask,
    StartZoneTask,
    StopZoneTask,
    script_node,
)
from pyobshell.upgrade.tasks.parameters import restore_statements
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks.context import PackageFile

PARAMETER_ROWS = [
    {"SVR_IP": "10.0.0.1", "SVR_PORT": 2882, "ZONE": "zone1", "SCOPE": "CLUSTER", "TENANT_ID": None,
     "NAME": "enable_rebalance", "VALUE": "True"},
    {"SVR_IP": "10.0.0.1", "SVR_PORT": 2882, "ZONE": "zone1", "SCOPE": "TENANT", "TENANT_ID": 1002,
     "NAME": "server_permanent_offline_time", "VALUE": "3600s"},
    {"SVR_IP": "10.0.0.2", "SVR_PORT": 2882, "ZONE": "zone2", "SCOPE": "TENANT", "TENANT_ID": 1002,
     "NAME": "server_permanent_offline_time", "VALUE": "3600s"},
]


# --- parameters ----------------------------------------------------------------------------

def test_backup_then_restore_sets_every_saved_value_back(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("GV\\$OB_PARAMETERS", PARAMETER_ROWS).on("DBA_OB_TENANTS", [{"TENANT_NAME": "app"}])
    backed_up = run_task(BackupParametersTask())
    assert backed_up.context.get_param("obParameters") == PARAMETER_ROWS
    assert "saved 3 parameter values" in backed_up.logs[0]
    assert "('server_permanent_offline_time', 'enable_rebalance', 'enable_rereplication')" in observer.statements[0]

    restored = run_task(RestoreParametersTask(), context=backed_up.context)
    assert [s for s in observer.statements if s.startswith("ALTER")] == [
        "ALTER SYSTEM SET enable_rebalance = 'True' SERVER = '10.0.0.1:2882'",
        "ALTER SYSTEM SET server_permanent_offline_time = '3600s' TENANT = app",
    ]
    assert restored.logs[-1] == "restored 2 parameter settings"


def test_restore_refuses_an_unknown_scope_or_a_strange_name() -> None:
    with pytest.raises(ObshellError) as scope:
        restore_statements([{**PARAMETER_ROWS[0], "SCOPE": "ZONE"}], str)
    assert scope.value.code == "OB.Parameter.Scope.Invalid"
    with pytest.raises(ObshellError):
        restore_statements([{**PARAMETER_ROWS[0], "NAME": "x = 1; DROP"}], str)
    quoted = restore_statements([{**PARAMETER_ROWS[0], "VALUE": "it's"}], str)
    assert quoted == ["ALTER SYSTEM SET enable_rebalance = 'it\\'s' SERVER = '10.0.0.1:2882'"]


def test_restore_without_a_backup_only_warns(make_env) -> None:
    make_env()
    ran = run_task(RestoreParametersTask())
    assert ran.logs == ["WARN: no saved parameters (obParameters) in the context: nothing to restore"]


# --- zones ---------------------------------------------------------------------------------

def test_stop_zone_polls_until_inactive(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("DBA_OB_ZONES", [{"STATUS": "ACTIVE"}], [{"STATUS": "ACTIVE"}], [{"STATUS": "INACTIVE"}])
    ran = run_task(StopZoneTask(name="Stop zone1"), {"zone": "zone1"})
    assert observer.statements[0] == "ALTER SYSTEM STOP ZONE 'zone1'"
    assert ran.logs[0] == "stopping zone1: ALTER SYSTEM STOP ZONE 'zone1'"
    assert any(line.startswith("zone1 INACTIVE after ") for line in ran.logs)
    assert len([s for s in observer.statements if "DBA_OB_ZONES" in s]) == 3  # three polls


def test_stop_zone_times_out_with_what_it_saw(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("DBA_OB_ZONES", [{"STATUS": "ACTIVE"}])
    with pytest.raises(ObshellError) as timeout:
        run_task(StopZoneTask(), {"zone": "zone1"})
    assert timeout.value.code == "OB.Cluster.AsyncOperationTimeout"
    assert "stop zone timeout: zone1 still ACTIVE" in timeout.value.message


def test_start_zone_on_a_retry_accepts_an_already_active_zone(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("START ZONE", sql_error(4633, "zone status not match")).on("DBA_OB_ZONES", [{"STATUS": "ACTIVE"}])
    ran = run_task(StartZoneTask(name="Start zone2"), {"zone": "zone2"})
    assert ran.logs[-1] == "zone2 is already ACTIVE ((4633) zone status not match)"


def test_stop_zone_failure_keeps_the_reason(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("STOP ZONE", sql_error(4660, "cannot stop server or stop zone in multiple zones"))
    observer.on("DBA_OB_ZONES", [{"STATUS": "ACTIVE"}])
    with pytest.raises(ObshellError) as refused:
        run_task(StopZoneTask(), {"zone": "zone2"})
    assert refused.value.message.startswith("ALTER SYSTEM STOP ZONE 'zone2' failed (zone is ACTIVE): (4660)")


def test_zone_names_are_checked_before_they_reach_sql(make_env, observer: FakeObserver) -> None:
    make_env()
    with pytest.raises(ObshellError) as refused:
        run_task(StopZoneTask(), {"zone": "z'; DROP"})
    assert refused.value.code == "Task.Context.Invalid" and observer.statements == []


# --- minor freeze --------------------------------------------------------------------------

def test_minor_freeze_waits_for_every_checkpoint_of_the_zone(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("DBA_OB_SERVERS", [
        {"SVR_IP": "10.0.0.1", "SVR_PORT": 2882, "ZONE": "zone1", "STATUS": "ACTIVE"},
        {"SVR_IP": "10.0.0.2", "SVR_PORT": 2882, "ZONE": "zone2", "STATUS": "ACTIVE"},
        {"SVR_IP": "10.0.0.3", "SVR_PORT": 2882, "ZONE": "zone1", "STATUS": "INACTIVE"},
    ])
    observer.on("ls_info", [{"checkpoint_scn": 100}], [{"checkpoint_scn": 100}], [{"checkpoint_scn": 1100}])
    ran = run_task(MinorFreezeTask(), {"scope": {"type": "ZONE", "target": ["zone1"]}})
    assert "ALTER SYSTEM MINOR FREEZE SERVER = ('10.0.0.1:2882')" in observer.statements
    assert ran.logs[-1].startswith("minor freeze of 10.0.0.1:2882 finished after")


def test_minor_freeze_timeout_and_bad_scope(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("DBA_OB_SERVERS", [{"SVR_IP": "10.0.0.1", "SVR_PORT": 2882, "ZONE": "zone1", "STATUS": "ACTIVE"}])
    observer.on("ls_info", [{"checkpoint_scn": 100}])
    with pytest.raises(ObshellError) as timeout:
        run_task(MinorFreezeTask(), {"scope": {"type": "GLOBAL"}})
    assert timeout.value.code == "OB.Cluster.MinorFreezeTimeout"
    assert "10.0.0.1:2882 checkpoint 100" in timeout.value.message
    with pytest.raises(ObshellError) as scope:
        run_task(MinorFreezeTask(), {"scope": {"type": "ZONE", "target": []}})
    assert scope.value.code == "Task.Context.Invalid"


# --- upgrade scripts -----------------------------------------------------------------------

FAKE_SCRIPT = """import os, sys
print("cwd=" + os.getcwd())
print("args=" + "|".join(sys.argv[1:]))
if any(a.startswith("-zbad") for a in sys.argv):
    print("checking zone bad")
    sys.stderr.write("upgrade_health_checker failed: zone:bad doesn't exist\\n")
    sys.exit(1)
print("all good")
"""


def script_context(tmp_path: Path, zone: str = "") -> TaskContext:
    rpm_dir = tmp_path / "rpm-1" / "x86_64" / "4.2.1.1"
    package = PackageFile("oceanbase-ce", "4.2.1.1-101", rpm_dir)
    (package.home_path / "etc").mkdir(parents=True)
    (package.home_path / "etc" / "upgrade_health_checker.py").write_text(FAKE_SCRIPT)
    node = script_node("etc/upgrade_health_checker.py", 0, zone)
    context = node.context or TaskContext()
    context.set_param("upgradeRoute", [RouteStep.from_dict({"Version": "4.2.1.1", "Release": "101"}).to_dict()])
    context.set_agent_data("127.0.0.1:2886", "4.2.1.1-101", package.to_dict())
    return context


def test_script_runs_with_glued_flags_from_the_package_dir(make_env, tmp_path: Path) -> None:
    make_env(python=sys.executable)
    ran = run_task(ExecScriptTask(), context=script_context(tmp_path, "zone1"))
    assert ran.logs[0].startswith("running etc/upgrade_health_checker.py of hop 1 (4.2.1.1-101) on 127.0.0.1:2882: ")
    assert "-p@stdin" in ran.logs[0] and "pw'1" not in "\n".join(ran.logs)
    # the script's output reaches the sub-task log line by line, as it is written
    assert "etc/upgrade_health_checker.py: checking zone bad" not in ran.logs
    assert "etc/upgrade_health_checker.py: all good" in ran.logs
    assert ran.logs[-1] == "etc/upgrade_health_checker.py succeeded: all good"


def test_script_arguments_and_cwd(make_env, tmp_path: Path) -> None:
    make_env(python=sys.executable)
    context = script_context(tmp_path, "zone1")
    task = ExecScriptTask()
    captured: list[str] = []
    original = task.run_command

    def spy(argv, **kwargs):
        result = original(argv, **kwargs)
        captured.append(result.output)
        return result

    task.run_command = spy  # type: ignore[method-assign]
    run_task(task, context=context)
    output = captured[0]
    assert f"cwd={tmp_path / 'rpm-1' / 'x86_64' / '4.2.1.1'}" in output
    assert "args=-h127.0.0.1|-P2881|-uroot|-ppw'1|-t7|-zzone1" in output


def test_script_failure_carries_its_last_lines_and_says_retry(make_env, tmp_path: Path) -> None:
    make_env(python=sys.executable)
    with pytest.raises(ObshellError) as failed:
        run_task(ExecScriptTask(), context=script_context(tmp_path, "bad"))
    assert failed.value.code == "OB.Upgrade.ScriptFailed"
    assert "upgrade_health_checker failed: zone:bad doesn't exist" in failed.value.message
    assert "retry" in failed.value.message
    logs = failed.value.ran.logs  # type: ignore[attr-defined]
    assert "checking zone bad" in logs[-1] and logs[-1].startswith("ERROR: etc/upgrade_health_checker.py exited with 1")


def test_script_nodes_are_named_and_flagged_as_obshell_does() -> None:
    pre = script_node("etc/upgrade_pre.py", 0)
    # every script re-runs safely after an interruption (the previous process is ended first)
    assert pre.name == "Execute upgrade pre script" and type(pre.task) is ExecScriptTask
    assert pre.task.can_retry and pre.task.can_continue
    assert ExecPreScriptTask().can_continue  # DAGs stored by earlier versions resume too
    zone_health = script_node("etc/upgrade_health_checker.py", 1, "zone2")
    assert zone_health.name == "Execute upgrade zone health checker script"
    assert zone_health.context is not None and zone_health.context.params == {
        "scriptFile": "etc/upgrade_health_checker.py", "upgradeRouteIndex": 1, "zone": "zone2"}
    with pytest.raises(ValueError):
        script_node("etc/rm_rf.py", 0)
