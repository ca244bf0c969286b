"""How an upgrade script step runs its script: the password only on the launcher's stdin, the
output streamed into the log, a bounded run, and a previous attempt's process ended first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pyobshell.errors import ObshellError
from pyobshell.upgrade.tasks.script_process import ScriptProcessRecord, end_previous, is_running
from pyobshell.upgrade.tasks.scripts import PROCESS_RECORDS, ExecScriptTask
from tests.upgrade.tasks.task_fakes import FAST, run_task
from tests.upgrade.tasks.test_cluster_tasks import script_context

PASSWORD = "pw'1"

# Prints where its own password came from, then (with -zslow) waits long enough to be seen.
PROBE_SCRIPT = """import os, sys, time
print("argv has password: %s" % any(a == "-p" + {password!r} for a in sys.argv))
own = open("/proc/%d/cmdline" % os.getpid(), "rb").read()
print("cmdline has password: %s" % ({password!r}.encode() in own))
sys.stdout.flush()
if any(a == "-zslow" for a in sys.argv):
    print("waiting for the zone"); sys.stdout.flush()
    time.sleep(60)
print("done")
"""


def probe_context(tmp_path: Path, zone: str = ""):
    context = script_context(tmp_path, zone)
    script = next(tmp_path.rglob("etc/upgrade_health_checker.py"))
    script.write_text(PROBE_SCRIPT.format(password=PASSWORD))
    return context


def every_cmdline() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                pass
    return found


def test_the_script_gets_the_password_and_no_process_shows_it(make_env, tmp_path: Path) -> None:
    make_env(python=sys.executable, root_password=PASSWORD)
    ran = run_task(ExecScriptTask(), context=probe_context(tmp_path))
    assert "etc/upgrade_health_checker.py: argv has password: True" in ran.logs
    assert "etc/upgrade_health_checker.py: cmdline has password: False" in ran.logs
    assert not any(PASSWORD in line for line in ran.logs)


def test_while_a_script_runs_no_cmdline_on_the_host_holds_the_password(make_env, tmp_path: Path) -> None:
    make_env(python=sys.executable, root_password=PASSWORD, timings=replace(FAST, script_run_timeout_s=30.0))
    task, seen = ExecScriptTask(), []
    original = task.log

    def watch(message: str) -> None:
        if message.endswith("waiting for the zone"):
            seen.extend(every_cmdline())
            task.interrupt()  # enough seen: end the script
        original(message)

    task.log = watch  # type: ignore[method-assign]
    with pytest.raises(BaseException):
        run_task(task, context=probe_context(tmp_path, "slow"))
    assert any(b"upgrade_health_checker.py" in line for line in seen), "the script was not among the processes"
    assert not any(PASSWORD.encode() in line for line in seen)


def test_a_script_that_outlives_its_budget_fails_naming_script_server_and_servers_down(
        make_env, observer, tmp_path: Path) -> None:
    observer.on("DBA_OB_SERVERS", [{"SVR_IP": "127.0.0.2", "SVR_PORT": 2882, "ZONE": "slow", "STATUS": "INACTIVE"},
                                   {"SVR_IP": "127.0.0.1", "SVR_PORT": 2882, "ZONE": "slow", "STATUS": "ACTIVE"}])
    make_env(python=sys.executable, root_password=PASSWORD, timings=replace(FAST, script_run_timeout_s=1.0))
    with pytest.raises(ObshellError) as failed:
        run_task(ExecScriptTask(), context=probe_context(tmp_path, "slow"))
    message = failed.value.message
    assert failed.value.code == "OB.Upgrade.ScriptFailed"
    assert "etc/upgrade_health_checker.py on 127.0.0.1:2882 did not finish within 1 s" in message
    assert "127.0.0.2:2882 (slow, INACTIVE)" in message and "127.0.0.1:2882" not in message.split("ACTIVE:")[1]
    assert "waiting for the zone" in message and "retry" in message
    logs = failed.value.ran.logs  # type: ignore[attr-defined]
    assert "etc/upgrade_health_checker.py: waiting for the zone" in logs  # streamed before the end


def sleeper(tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                            stdout=subprocess.DEVNULL, cwd=tmp_path)


def test_a_previous_attempt_still_running_is_ended_before_the_script_runs_again(make_env, tmp_path: Path) -> None:
    env = make_env(python=sys.executable, root_password=PASSWORD)
    orphan = sleeper(tmp_path)  # what an agent killed mid-script leaves behind
    record = ScriptProcessRecord(env.home / PROCESS_RECORDS, 1)
    record.save(orphan.pid, "etc/upgrade_health_checker.py")
    try:
        ran = run_task(ExecScriptTask(), context=probe_context(tmp_path), is_continue=True)
        assert orphan.wait(timeout=5) == -15  # SIGTERM to its process group
    finally:
        orphan.kill()
    warning = next(line for line in ran.logs if line.startswith("WARN:"))
    assert f"(pid {orphan.pid}) was still running: ended its process group with SIGTERM" in warning
    assert "running the script again, as RETRY would" in warning
    assert "etc/upgrade_health_checker.py: done" in ran.logs
    assert not record.path.exists()


def test_a_record_of_an_ended_or_reused_pid_ends_nothing(tmp_path: Path) -> None:
    record = ScriptProcessRecord(tmp_path, 7)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    record.save(done.pid, "etc/upgrade_pre.py")
    assert end_previous(record) == f"the previous attempt's etc/upgrade_pre.py (pid {done.pid}) had already ended"
    assert not record.path.exists() and end_previous(record) is None

    unrelated = sleeper(tmp_path)
    try:
        record.save(unrelated.pid, "etc/upgrade_pre.py")
        data = json.loads(record.path.read_text())
        data["started"] -= 1000  # the recorded process started long before this one got its pid
        record.path.write_text(json.dumps(data))
        previous = record.load()
        assert previous is not None and not is_running(previous)
        assert "had already ended" in end_previous(record)
        assert unrelated.poll() is None
    finally:
        unrelated.kill()


def test_a_record_that_cannot_be_read_is_no_previous_attempt(tmp_path: Path) -> None:
    record = ScriptProcessRecord(tmp_path, 9)
    record.path.write_text("{not json")
    assert end_previous(record) is None
    assert os.listdir(tmp_path) == []
