"""The upgrade scripts shipped in simulated packages, exercised without a server.

The command-line tests run each script as a subprocess from a fake observer home
(`etc/` holds copies of the scripts, `bin/observer` prints a version banner), the way
the agent runs them from an unpacked package. The module tests drive the scripts'
functions against a scripted fake session to check which statements they issue.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

ETC = Path(__file__).resolve().parents[2] / "src" / "pyobshell" / "sim" / "package_files" / "etc"
SCRIPTS = ["upgrade_checker", "upgrade_pre", "upgrade_health_checker", "upgrade_post"]
DEFAULT_LOGS = {
    "upgrade_checker": "upgrade_checker.log",
    "upgrade_pre": "upgrade_pre.log",
    "upgrade_health_checker": "upgrade_cluster_health_checker.log",
    "upgrade_post": "upgrade_post.log",
}
BANNER = "observer (OceanBase_CE 4.2.1.1)\\n\\nREVISION: 101000062023110109-abc\\n"


def write_observer(home: Path, body: str) -> None:
    observer = home / "bin" / "observer"
    observer.parent.mkdir(parents=True, exist_ok=True)
    observer.write_text("#!/bin/sh\n" + body + "\n")
    observer.chmod(0o755)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "oceanbase"
    (home / "etc").mkdir(parents=True)
    for script in ETC.glob("upgrade_*.py"):
        shutil.copy(script, home / "etc" / script.name)
    # Like the real binary, the banner goes to stderr.
    write_observer(home, f'printf "{BANNER}" >&2')
    return home


def run(home: Path, script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, str(home / "etc" / f"{script}.py"), *args],
        cwd=cwd or home.parent, env=env, capture_output=True, text=True, timeout=120,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


# ------------------------------------------------------------------ command line

@pytest.mark.parametrize("script", SCRIPTS)
def test_version_flag_prints_the_version_of_the_observer_next_to_the_script(home: Path, script: str) -> None:
    for flag in ("-V", "--version"):
        result = run(home, script, flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "4.2.1.1"


def test_version_flag_fails_clearly_without_an_observer_binary(home: Path) -> None:
    (home / "bin" / "observer").unlink()
    result = run(home, "upgrade_post", "-V")
    assert result.returncode == 1
    assert "cannot determine the target version" in last_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_version_flag_fails_clearly_when_the_observer_prints_no_banner(home: Path) -> None:
    write_observer(home, 'echo "segmentation fault" >&2; exit 139')
    result = run(home, "upgrade_pre", "-V")
    assert result.returncode == 1
    assert "no 'OceanBase_CE A.B.C.D' banner" in result.stderr
    assert "segmentation fault" in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_options_and_modules(home: Path, script: str) -> None:
    result = run(home, script, "--help")
    assert result.returncode == 0
    assert "--host" in result.stdout and "--timeout" in result.stdout
    assert DEFAULT_LOGS[script] in result.stdout
    assert ("--zone" in result.stdout) == (script == "upgrade_health_checker")
    if script == "upgrade_pre":
        assert "begin_upgrade, begin_rolling_upgrade, special_action, health_check" in result.stdout
    if script == "upgrade_post":
        assert "health_check, end_rolling_upgrade, tenant_upgrade, end_upgrade, post_check" in result.stdout


@pytest.mark.parametrize("args, message", [
    ((), "missing required option(s) -h, -P, -u"),
    (("-h", "127.0.0.1", "-u", "root"), "missing required option(s) -P"),
    (("-h", "127.0.0.1", "-P", "2881x", "-u", "root"), "invalid port: '2881x' is not a number"),
    (("-h", "127.0.0.1", "-P", "2881", "-u", "root", "-t", "-5"), "invalid timeout: -5"),
    (("-h", "127.0.0.1", "-P", "2881", "-u", "root", "--colour"), "option --colour not recognized"),
    (("-h", "127.0.0.1", "-P", "2881", "-u", "root", "-z", "zone1"), "option -z not recognized"),
    (("-h", "127.0.0.1", "-P", "2881", "-u", "root", "extra"), "unexpected argument: extra"),
])
def test_usage_errors_exit_2_with_the_reason(home: Path, args: tuple, message: str) -> None:
    result = run(home, "upgrade_pre", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home.parent / "upgrade_pre.log").exists()


@pytest.mark.parametrize("script, module", [
    ("upgrade_pre", "begin_upgrade,bogus"), ("upgrade_post", "end_upgrade,begin_upgrade"),
    ("upgrade_checker", "special_action"), ("upgrade_health_checker", "health_check"),
])
def test_unknown_module_fails_before_connecting(home: Path, script: str, module: str) -> None:
    bad = module.split(",")[-1]
    result = run(home, script, "-h", "127.0.0.1", "-P", str(closed_port()), "-u", "root", "-m", module)
    assert result.returncode == 1
    assert last_line(result.stderr) == f"{script} failed: invalid module: {bad}"
    assert "connect to" not in result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_unreachable_observer_fails_with_one_clear_line(home: Path, script: str) -> None:
    port = closed_port()
    result = run(home, script, "-h", "127.0.0.1", "-P", str(port), "-u", "root", "-p", 'Se"cret!')
    assert result.returncode == 1
    line = last_line(result.stderr)
    assert line.startswith(f"{script} failed: cannot connect to 127.0.0.1:{port} as root:")
    assert "2003" in line
    assert "Traceback" not in result.stdout + result.stderr
    log = (home.parent / DEFAULT_LOGS[script]).read_text()
    assert last_line(log).endswith(line)
    assert "Se\"cret!" not in log + result.stdout + result.stderr
    assert 'password="******"' in log


def test_log_file_option_chooses_the_log_path(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "pre.log"
    log.parent.mkdir()
    result = run(home, "upgrade_pre", "-h", "127.0.0.1", "-P", str(closed_port()), "-u", "root",
                 "--log-file", str(log))
    assert result.returncode == 1
    assert "cannot connect" in log.read_text()
    assert not (home.parent / "upgrade_pre.log").exists()


def test_unwritable_log_file_is_reported(home: Path, tmp_path: Path) -> None:
    result = run(home, "upgrade_post", "-h", "127.0.0.1", "-P", "2881", "-u", "root",
                 "-l", str(tmp_path / "missing" / "post.log"))
    assert result.returncode == 1
    assert "cannot open log file" in last_line(result.stderr)


# ------------------------------------------------------------ modules, fake session

class FakeSession:
    """Answers queries from (substring, rows) rules, newest rule first; records writes."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, Callable[[], list[tuple]]]] = []
        self.queries: list[str] = []
        self.writes: list[str] = []
        self.query_timeout_s = 10

    def on(self, fragment: str, rows: list[tuple] | Callable[[], list[tuple]]) -> None:
        self.rules.insert(0, (fragment, rows if callable(rows) else (lambda: rows)))

    def query(self, sql: str) -> list[tuple]:
        self.queries.append(sql)
        for fragment, rows in self.rules:
            if fragment in sql:
                return rows()
        raise AssertionError(f"unexpected query: {sql}")

    def scalar(self, sql: str):
        return self.query(sql)[0][0]

    def execute(self, sql: str) -> None:
        self.writes.append(sql)

    def set_query_timeout(self, seconds: int) -> None:
        self.writes.append(f"set @@session.ob_query_timeout = {seconds * 1000000}")


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch):
    """The script modules, imported from the package source the way they import each other."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(ETC))
    names = ["upgrade_common", *SCRIPTS]
    for name in names:
        sys.modules.pop(name, None)
    modules = {name: importlib.import_module(name) for name in names}
    yield modules
    for name in names:
        sys.modules.pop(name, None)


def healthy_cluster(session: FakeSession, version: str = "4.2.1.0") -> None:
    code = (4 << 32) | (2 << 16) | (1 << 8) | int(version.split(".")[-1])
    session.on("count(", [(0,)])
    session.on("select * from oceanbase.GV$OB_PARAMETERS", [])
    session.on("name='min_observer_version'", [(version,)])
    session.on("name='compatible'", [(version,)])
    session.on("from oceanbase.__all_tenant", [(1,), (1001,), (1002,)])
    session.on("select count(*) from oceanbase.__all_tenant", [(3,)])
    session.on(f"column_value = {code}", [(6,)])
    session.on("as passed", [(1,)])
    session.on("substring_index(build_version", [(version,)])
    session.on("select tenant_name", [("sys",), ("META$1002",), ("app",)])


def test_data_version_encoding_and_module_order(scripts) -> None:
    common = scripts["upgrade_common"]
    assert common.data_version_code("4.2.1.1") == 17180000513
    assert common.select_modules(scripts["upgrade_post"].SPEC, "post_check,health_check") == [
        "health_check", "post_check"]
    with pytest.raises(common.ScriptError, match="invalid version"):
        common.version_tuple("4.2.1")


def test_checker_passes_a_healthy_cluster_and_pins_offline_time(scripts) -> None:
    session = FakeSession()
    healthy_cluster(session)
    pending = iter([[(3,)], [(0,)]])
    session.on("value != '72h'", lambda: next(pending))
    scripts["upgrade_checker"]._body(session, scripts["upgrade_common"].Options(), [])
    assert session.writes == ["alter system set server_permanent_offline_time = '72h'"]


def test_checker_reports_every_failed_check_together(scripts) -> None:
    session = FakeSession()
    healthy_cluster(session)
    session.on("in_sync = 'NO'", [(2,)])
    session.on("CDB_OB_BACKUP_JOBS", [(1,)])
    session.on("substring_index(build_version", [("4.2.1.0",), ("4.2.1.1",)])
    checker = scripts["upgrade_checker"]
    with pytest.raises(checker.ChecksFailed) as failed:
        checker._body(session, scripts["upgrade_common"].Options(), [])
    line = failed.value.final_line("upgrade_checker")
    assert line.startswith("upgrade checker failed with 3 reasons: [2 replicas unsync")
    assert "[still has backup job" in line and "[servers build_version not match]" in line
    assert session.writes == []


def test_pre_begins_upgrade_only_when_not_yet_in_upgrade_mode(scripts) -> None:
    pre = scripts["upgrade_pre"]
    session = FakeSession()
    healthy_cluster(session)
    pre.begin_upgrade(session, 5)
    session.on("name = '_upgrade_stage' and value = 'DBUPGRADE'", [("x",)])
    pre.begin_rolling_upgrade(session, 5)
    assert session.writes == ["alter system begin upgrade"]


def test_pre_special_action_only_across_versions(scripts) -> None:
    pre = scripts["upgrade_pre"]
    session = FakeSession()
    healthy_cluster(session, "4.2.1.1")
    pre.special_action(session, 5, "4.2.1.1")
    assert session.writes == []

    session = FakeSession()
    healthy_cluster(session, "4.2.1.0")
    unsynced = iter([[(3,)], [(0,)]] * 3)
    session.on("value != 'False'", lambda: next(unsynced))
    session.on("select distinct value from oceanbase.GV$OB_PARAMETERS where name = 'enable_major_freeze'", [("False",)])
    pre.special_action(session, 5, "4.2.1.1")
    assert session.writes == [
        "alter system set enable_ddl = 'False'",
        "alter system set enable_major_freeze = 'False'",
        "alter system set _enable_adaptive_compaction = 'False' tenant = 'sys'",
        "alter system set _enable_adaptive_compaction = 'False' tenant = 'all_user'",
        "alter system set _enable_adaptive_compaction = 'False' tenant = 'all_meta'",
        "alter system suspend merge tenant = sys",
        "alter system suspend merge tenant = all_user",
        "alter system suspend merge tenant = all_meta",
    ]
    assert any("CDB_OB_MAJOR_COMPACTION" in q for q in session.queries)


def test_wait_times_out_with_the_sql_and_last_value(scripts) -> None:
    health = scripts["upgrade_health_checker"]
    session = FakeSession()
    healthy_cluster(session)
    session.on("in_sync = 'NO'", [(4,)])
    with pytest.raises(scripts["upgrade_common"].ScriptError) as error:
        health.run_health_check(session, 1)
    assert str(error.value).startswith(
        "result not expected, sql: select count(*) from oceanbase.GV$OB_LOG_STAT where in_sync = 'NO'")
    assert "last value: 4" in str(error.value)


def test_health_checker_rejects_an_unknown_zone(scripts) -> None:
    session = FakeSession()
    healthy_cluster(session)
    with pytest.raises(scripts["upgrade_common"].ScriptError, match="zone:zone9 doesn't exist"):
        scripts["upgrade_health_checker"].run_health_check(session, 1, zone="zone9")


def test_post_skips_end_rolling_upgrade_when_already_done(scripts) -> None:
    post = scripts["upgrade_post"]
    session = FakeSession()
    healthy_cluster(session, "4.2.1.1")
    session.on("name = '_upgrade_stage' and value = 'POSTUPGRADE'", [("x",)])
    session.on("name = 'min_observer_version' and value = '4.2.1.1'", [("x",)])
    post.end_rolling_upgrade(session, 5, "4.2.1.1")
    assert session.writes == []
    session.on("name = 'min_observer_version' and value = '4.2.1.1'", [])
    post.end_rolling_upgrade(session, 5, "4.2.1.1")
    assert session.writes == ["alter system end rolling upgrade"]


def test_post_runs_upgrade_all_across_versions_and_waits_for_the_job(scripts) -> None:
    post = scripts["upgrade_post"]
    session = FakeSession()
    healthy_cluster(session, "4.2.1.0")
    session.on("select job_status from", [("SUCCESS",)])
    session.on("select job_id from", [(7,)])
    statuses = iter([[], [("INPROGRESS", "127.0.0.1", 2882, "2024-01-01 00:00:00")],
                     [("SUCCESS", "127.0.0.1", 2882, "2024-01-01 00:00:00")]])
    session.on("job_id > 7", lambda: next(statuses))
    session.on("__all_sys_parameter where name = 'enable_ddl'", [("False",)])
    session.on("table_name = '__all_virtual_core_table'", [(1,)])
    enabling = iter([[(3,)], [(0,)]] * 2)
    session.on("value != 'True'", lambda: next(enabling))
    disabling = iter([[(3,)], [(0,)]] * 2)
    session.on("value != 'False'", lambda: next(disabling))
    post.tenant_upgrade(session, 5, "4.2.1.1")
    assert session.writes == [
        "alter system set enable_ddl = 'True'",
        "alter system set enable_sys_table_ddl = 'True'",
        "alter system run upgrade job 'UPGRADE_ALL'",
        "alter system set enable_sys_table_ddl = 'False'",
        "alter system set enable_ddl = 'False'",
        "set @@session.ob_query_timeout = 5000000",
        "alter system run job 'root_inspection'",
        "set @@session.ob_query_timeout = 10000000",
    ]


def test_post_refuses_to_start_a_second_upgrade_job(scripts) -> None:
    post = scripts["upgrade_post"]
    session = FakeSession()
    healthy_cluster(session)
    session.on("select job_status from", [("INPROGRESS",)])
    with pytest.raises(scripts["upgrade_common"].ScriptError, match="still running"):
        post.run_upgrade_job(session, "UPGRADE_ALL", 5)
    assert session.writes == []


def test_post_fails_when_the_upgrade_job_fails(scripts) -> None:
    post = scripts["upgrade_post"]
    session = FakeSession()
    healthy_cluster(session)
    session.on("select job_status from", [])
    session.on("select job_id from", [])
    session.on("job_id > 0", [("FAILED", "127.0.0.1", 2882, "2024-01-01 00:00:00")])
    session.on("__all_sys_parameter where name = 'enable_ddl'", [])
    with pytest.raises(scripts["upgrade_common"].ScriptError, match="upgrade job UPGRADE_VIRTUAL_SCHEMA failed"):
        post.run_upgrade_job(session, "UPGRADE_VIRTUAL_SCHEMA", 5)


def test_waits_poll_fast_then_back_off(scripts, monkeypatch: pytest.MonkeyPatch) -> None:
    common = scripts["upgrade_common"]
    slept: list[float] = []
    monkeypatch.setattr(common.time, "sleep", slept.append)
    values = iter([5, 4, 3, 2, 1, 1, 0])
    session = FakeSession()
    session.on("GV$OB_LOG_STAT", lambda: [(next(values),)])
    common.wait_for_value(session, "select count(*) from oceanbase.GV$OB_LOG_STAT where in_sync = 'NO'", 0, 600)
    assert slept == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert len(session.queries) == 7
