"""Reinstall and restart observer with a stand-in observer process (a detached `sleep`)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.upgrade.tasks.task_fakes import FakeObserver, run_task

from pyobshell.engine import TaskContext
from pyobshell.errors import ObshellError
from pyobshell.ob.process import observer_pid
from pyobshell.upgrade.tasks import ReinstallAndRestartObserverTask, reinstall_node
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks.context import PackageFile

pytestmark = pytest.mark.multiprocess

# Starts a detached stand-in and records its pid, as the real observer daemonizes.
NEW_OBSERVER = """#!/bin/sh
if [ "$1" = "-V" ]; then echo "observer (OceanBase_CE 4.2.1.1)" >&2; exit 0; fi
[ -n "$LD_LIBRARY_PATH" ] || exit 9
mkdir -p run
nohup sleep 300 >/dev/null 2>&1 &
echo $! > run/observer.pid
"""


@pytest.fixture
def old_observer(ob_home: Path) -> Iterator[subprocess.Popen]:
    (ob_home / "bin").mkdir()
    (ob_home / "run").mkdir()
    (ob_home / "bin" / "observer").write_text("#!/bin/sh\nexit 1\n")
    (ob_home / "bin" / "obshell").write_text("the agent's own")
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (ob_home / "run" / "observer.pid").write_text(f"{process.pid}\n")
    yield process
    for pid in {process.pid, observer_pid(ob_home)} - {None}:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def reinstall_context(tmp_path: Path) -> TaskContext:
    package = PackageFile("oceanbase-ce", "4.2.1.1-101", tmp_path / "rpm-1" / "x86_64" / "4.2.1.1")
    home = package.home_path
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    (home / "bin" / "observer").write_text(NEW_OBSERVER)
    (home / "bin" / "observer").chmod(0o755)
    (home / "bin" / "obshell").write_text("obshell of the package")
    (home / "lib" / "libaio.so.1").write_text("lib")
    node = reinstall_node(0, [], "zone1")
    context = node.context or TaskContext()
    context.set_param("upgradeRoute", [RouteStep.from_dict({"Version": "4.2.1.1", "Release": "101"}).to_dict()])
    context.set_agent_data("127.0.0.1:2886", "4.2.1.1-101", package.to_dict())
    return context


def _not_serving_row(index: int) -> dict:
    return {"SVR_IP": f"127.0.0.{index + 2}", "SVR_PORT": 2882, "STATUS": "INACTIVE", "STOP_TIME": None,
            "START_SERVICE_TIME": None}


def serving_cluster(observer: FakeObserver, *not_serving: int) -> None:
    observer.on("STATUS != 'ACTIVE'", *[[_not_serving_row(i) for i in range(n)] for n in not_serving])
    observer.on("in_sync = 'NO'", [{"n": 0}])
    observer.on("SELECT BUILD_VERSION", [{"BUILD_VERSION": "4.2.1.1_101-abc(Nov 1 2023)"}])


def test_kill_copy_start_wait_then_a_retry_does_not_restart_it(make_env, observer: FakeObserver, ob_home: Path,
                                                               old_observer: subprocess.Popen,
                                                               tmp_path: Path) -> None:
    make_env()
    serving_cluster(observer, 1, 1, 0)
    context = reinstall_context(tmp_path)
    ran = run_task(ReinstallAndRestartObserverTask(), context=context)

    assert old_observer.wait(timeout=10) == -signal.SIGKILL
    new_pid = observer_pid(ob_home)
    assert new_pid is not None and new_pid != old_observer.pid
    assert (ob_home / "bin" / "obshell").read_text() == "the agent's own"
    assert (ob_home / "lib" / "libaio.so.1").read_text() == "lib"
    home = tmp_path / "rpm-1" / "x86_64" / "4.2.1.1" / "home" / "admin" / "oceanbase"
    assert ran.logs[0].startswith(f"observer 127.0.0.1 pid {old_observer.pid} killed (")
    assert ran.logs[1:3] == [
        f"copied 2 files from {home} over {ob_home}",
        f"started observer 127.0.0.1 from {ob_home}: pid {new_pid}",
    ]
    assert ran.logs[-1].startswith("every observer ACTIVE, in service and in sync after")

    again = run_task(ReinstallAndRestartObserverTask(), context=context, is_continue=True)
    assert again.logs[0] == (f"observer 127.0.0.1 pid {new_pid} already runs 4.2.1.1-101 "
                             "(started after it was installed): not restarting it")
    assert observer_pid(ob_home) == new_pid


def test_an_observer_that_never_serves_fails_with_what_was_seen(make_env, observer: FakeObserver,
                                                               old_observer: subprocess.Popen,
                                                               tmp_path: Path) -> None:
    make_env()
    serving_cluster(observer, 1)
    with pytest.raises(ObshellError) as failed:
        run_task(ReinstallAndRestartObserverTask(), context=reinstall_context(tmp_path))
    assert failed.value.code == "OB.Observer.WaitAvailableTimeout"
    assert "wait all observer available timeout" in failed.value.message
    assert "not in service: 127.0.0.2:2882 (INACTIVE); 0 log stream replica(s) out of sync" in failed.value.message
    assert "A retry does not restart the new observer" in failed.value.message


def test_a_failing_start_names_the_observer_log(make_env, observer: FakeObserver, ob_home: Path,
                                                old_observer: subprocess.Popen, tmp_path: Path) -> None:
    make_env()
    context = reinstall_context(tmp_path)
    package_observer = tmp_path / "rpm-1" / "x86_64" / "4.2.1.1" / "home" / "admin" / "oceanbase" / "bin" / "observer"
    package_observer.write_text("#!/bin/sh\necho 'cannot open etc/observer.config.bin' >&2\nexit 1\n")
    with pytest.raises(ObshellError) as failed:
        run_task(ReinstallAndRestartObserverTask(), context=context)
    assert failed.value.code == "OB.Observer.StartFailed"
    assert "cannot open etc/observer.config.bin" in failed.value.message
    assert str(ob_home / "log" / "observer.log") in failed.value.message
