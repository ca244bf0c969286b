"""The task environment registry, backing-off polls, commands and installing a package tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.upgrade.tasks.task_fakes import AGENT, FAST, run_task, sql_error

from pyobshell.engine import AgentInfo
from pyobshell.errors import ObshellError
from pyobshell.upgrade import environment as task_environment
from pyobshell.upgrade.tasks import base
from pyobshell.upgrade.tasks.base import CommandTimeout, PollResult, UpgradeTask
from pyobshell.upgrade.tasks.observer_files import copy_tree_over, same_content

OTHER = AgentInfo("127.0.0.2", 2886)


class Probe(UpgradeTask):
    """Runs a poll or a command given to it, so the shared helpers run inside a real task."""

    action = staticmethod(lambda task: None)

    def execute(self) -> None:
        self.result = self.action(self)


def test_current_without_any_environment_names_the_agent_and_the_fix() -> None:
    with pytest.raises(ObshellError) as missing:
        task_environment.current(AGENT)
    assert missing.value.code == "Upgrade.TaskEnvironment.Missing"
    assert "127.0.0.1:2886" in missing.value.message and "install()" in missing.value.message


def test_current_picks_the_executing_agents_environment(make_env, tmp_path: Path) -> None:
    first = make_env()
    second = make_env(agent=OTHER, ob_home=tmp_path / "other")
    assert task_environment.current(AGENT) is first
    assert task_environment.current(OTHER) is second
    with pytest.raises(ObshellError) as ambiguous:
        task_environment.current(AgentInfo("10.0.0.9", 2886))
    assert "127.0.0.1:2886, 127.0.0.2:2886" in ambiguous.value.message
    task_environment.uninstall(OTHER)
    assert task_environment.current(AgentInfo("10.0.0.9", 2886)) is first  # an agent process has one


def test_poll_backs_off_counts_query_errors_as_not_yet_and_reports_the_last_sight(make_env) -> None:
    make_env()
    answers = iter([sql_error(2013, "Lost connection"), PollResult(False, "2 left"), PollResult(True, "done")])

    def probe() -> PollResult:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    task = Probe()
    task.action = lambda t: t.poll_until("it", probe, 5.0)
    ran = run_task(task)
    done, _elapsed, seen = task.result
    assert done and seen == "done"
    assert ran.logs == []


def test_a_long_poll_logs_what_it_waits_on_whenever_that_changes(make_env, monkeypatch) -> None:
    # Past PROGRESS_AFTER_S a wait is not silent (a dead server once hung a step without a line).
    monkeypatch.setattr(base, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(base, "PROGRESS_EVERY_S", 3600.0)
    make_env()
    answers = iter([PollResult(False, "zone3 down"), PollResult(False, "zone3 down"), PollResult(False, "in sync 2/3"),
                    PollResult(True, "done")])
    task = Probe()
    task.action = lambda t: t.poll_until("every observer in service", lambda: next(answers), 5.0)
    ran = run_task(task)
    assert [line.split(": ", 1)[1] for line in ran.logs] == ["zone3 down", "in sync 2/3"]
    assert all(line.startswith("waiting for every observer in service (") and " s of 5 s)" in line for line in ran.logs)


def test_poll_gives_up_after_its_budget_with_what_it_last_saw(make_env) -> None:
    make_env()
    task = Probe()
    task.action = lambda t: t.poll_until("zone1 INACTIVE", lambda: PollResult(False, "ACTIVE"), 0.05)
    ran = run_task(task)
    assert task.result[0] is False and task.result[2] == "ACTIVE"
    assert "gave up waiting for zone1 INACTIVE" in ran.logs[-1] and "last seen: ACTIVE" in ran.logs[-1]


def test_commands_collect_output_and_time_out(make_env, tmp_path: Path) -> None:
    make_env()
    task = Probe()
    task.action = lambda t: t.run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], cwd=tmp_path)
    run_task(task)
    assert task.result.returncode == 3 and task.result.output.split() == ["out", "err"]
    slow = Probe()
    slow.action = lambda t: t.run_command(["sleep", "30"], timeout_s=0.2)
    with pytest.raises(CommandTimeout):
        run_task(slow)


def test_copy_tree_over_merges_replaces_skips_obshell_and_keeps_links(tmp_path: Path) -> None:
    source, dest = tmp_path / "pkg", tmp_path / "home"
    (source / "bin").mkdir(parents=True)
    (source / "lib").mkdir()
    (source / "bin" / "observer").write_text("new observer")
    (source / "bin" / "observer").chmod(0o755)
    (source / "bin" / "obshell").write_text("agent binary")
    (source / "lib" / "libfoo.so.1").write_text("lib")
    os.symlink("libfoo.so.1", source / "lib" / "libfoo.so")
    (dest / "bin").mkdir(parents=True)
    (dest / "store").mkdir()
    (dest / "bin" / "observer").write_text("old observer")
    (dest / "bin" / "obshell").write_text("keep me")
    (dest / "store" / "data").write_text("data")

    assert copy_tree_over(source, dest) == 3
    assert (dest / "bin" / "observer").read_text() == "new observer"
    assert os.access(dest / "bin" / "observer", os.X_OK)
    assert (dest / "bin" / "obshell").read_text() == "keep me"
    assert (dest / "store" / "data").read_text() == "data"
    assert os.readlink(dest / "lib" / "libfoo.so") == "libfoo.so.1"
    assert same_content(source / "bin" / "observer", dest / "bin" / "observer")
    assert not same_content(source / "bin" / "obshell", dest / "bin" / "obshell")
    assert copy_tree_over(source, dest) == 3  # again: links and files are replaced, not refused


def test_copy_tree_over_a_missing_source_says_what_to_retry(tmp_path: Path) -> None:
    with pytest.raises(ObshellError) as missing:
        copy_tree_over(tmp_path / "nothing", tmp_path)
    assert "Unpack all required packages" in missing.value.message


def test_a_resumed_task_waits_for_the_package_store_to_open(make_env) -> None:
    from pyobshell.upgrade.packages.store import PACKAGE_STORE_UNAVAILABLE

    opened = object()
    answers = [PACKAGE_STORE_UNAVAILABLE("the cluster's ocs database is not open on this agent")] * 3 + [opened]

    def store():
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    make_env(package_store=store)
    task = Probe()
    task.action = lambda t: t.package_store()
    ran = run_task(task)
    assert task.result is opened and answers == []
    assert [line for line in ran.logs if "waiting up to" in line] == [
        "waiting up to 120 s for the cluster's package store: The package store is not available: the cluster's ocs database is not open on this agent"]


def test_the_package_store_wait_is_bounded(make_env) -> None:
    from dataclasses import replace

    from pyobshell.upgrade.packages.store import PACKAGE_STORE_UNAVAILABLE

    def never():
        raise PACKAGE_STORE_UNAVAILABLE("not open")

    make_env(package_store=never, timings=replace(FAST, store_wait_s=0.3))
    task = Probe()
    task.action = lambda t: t.package_store()
    with pytest.raises(ObshellError) as failed:
        run_task(task)
    assert failed.value.code == "Package.Store.Unavailable"
