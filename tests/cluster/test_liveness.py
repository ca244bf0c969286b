"""The maintainer's watch on executors: silence counted only while it can see the store, a
silent executor's running sub-tasks failed with a log naming it, everyone else left alone."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from pyobshell.cluster.liveness import ExecutorWatch, SilenceClock
from pyobshell.cluster.settings import ClusterSettings, SettingsError
from pyobshell.engine import TaskContext
from pyobshell.engine.model import AgentInfo, Operator, State
from pyobshell.engine.rows import SubTaskRow

ME, A, B = AgentInfo("10.0.0.1", 2886), AgentInfo("10.0.0.2", 2886), AgentInfo("10.0.0.3", 2886)


def test_silence_grows_while_a_beat_stays_the_same_and_resets_when_it_moves() -> None:
    clock = SilenceClock()
    clock.observe({A: 1, B: 1}, now=0.0)
    clock.observe({A: 2, B: 1}, now=10.0)
    assert clock.silent_for(A, 12.0) == 2.0 and clock.silent_for(B, 12.0) == 12.0
    assert clock.silent_for(AgentInfo("10.9.9.9", 1), 12.0) == 0.0  # never seen: not blamed


def test_a_read_that_failed_gives_everyone_a_fresh_grace_period() -> None:
    clock = SilenceClock()
    clock.observe({A: 1}, now=0.0)
    clock.lost_sight()  # e.g. every observer down during a stop-service upgrade
    assert clock.silent_for(A, 100.0) == 0.0
    clock.observe({A: 1}, now=100.0)  # the same beat as before the gap: counted from now
    assert clock.silent_for(A, 130.0) == 30.0


@dataclass
class FakeRegistry:
    beats: dict[AgentInfo, int] = field(default_factory=dict)
    fail: bool = False

    def heartbeat(self, agent: AgentInfo) -> None:
        self.beats[agent] = self.beats.get(agent, 0) + 1

    def heartbeats(self) -> dict[AgentInfo, int]:
        if self.fail:
            raise ConnectionError("no observer answers")
        return dict(self.beats)


def running(task_id: int, agent: AgentInfo, state: State = State.RUNNING) -> SubTaskRow:
    return SubTaskRow(task_id, 1, "Reinstall and restart observer", "ReinstallAndRestartObserverTask", agent, 1,
                      True, True, False, True, False, TaskContext(), state, Operator.RUN, None, None)


@dataclass
class FakeStore:
    tasks: list[SubTaskRow]
    logs: dict[int, str] = field(default_factory=dict)

    @contextmanager
    def read(self):
        yield None

    transaction = read

    def subtasks_in_states(self, conn, states):
        return [task for task in self.tasks if task.state in states]

    def subtask_fail(self, conn, task, reason):
        task.state = State.FAILED
        self.logs[task.id] = reason
        return True


def test_the_maintainer_fails_only_what_a_silent_executor_runs() -> None:
    registry = FakeRegistry({ME: 1, A: 1, B: 1})
    store = FakeStore([running(11, A), running(12, B), running(13, ME)])
    now, woken = [0.0], []
    watch = ExecutorWatch(store, registry, ME, silence_s=30.0, wake=lambda: woken.append(1), clock=lambda: now[0])
    assert watch.check(is_maintainer=True) == []
    failed_at = {}
    for second in range(5, 45, 5):  # B keeps beating, A and this agent's own row do not
        now[0] = float(second)
        registry.heartbeat(B)
        failed_at.update({task.id: second for task in watch.check(is_maintainer=True)})
    assert failed_at == {11: 30} and woken == [1]
    assert store.logs[11] == ("ERROR: agent 10.0.0.2:2886, which runs this sub task, has sent no heart-beat for "
                              "30 s (limit 30 s): taken for dead. Start that agent again, then RETRY this DAG; "
                              "or ROLLBACK")
    assert store.tasks[1].state == State.RUNNING and store.tasks[2].state == State.RUNNING


def test_a_watcher_fails_nothing_and_a_new_maintainer_starts_every_clock_afresh() -> None:
    registry = FakeRegistry({A: 1})
    store = FakeStore([running(11, A)])
    now = [0.0]
    watch = ExecutorWatch(store, registry, ME, silence_s=30.0, wake=lambda: None, clock=lambda: now[0])
    watch.check(is_maintainer=True)
    now[0] = 100.0
    assert watch.check(is_maintainer=False) == []  # not the maintainer (any more)
    now[0] = 110.0
    assert watch.check(is_maintainer=True) == []  # maintainer again: A's silence counts from here
    now[0] = 141.0
    assert [task.id for task in watch.check(is_maintainer=True)] == [11]


def test_a_store_that_cannot_be_read_fails_nothing() -> None:
    registry = FakeRegistry({A: 1})
    store = FakeStore([running(11, A)])
    now = [0.0]
    watch = ExecutorWatch(store, registry, ME, silence_s=30.0, wake=lambda: None, clock=lambda: now[0])
    watch.check(is_maintainer=True)
    registry.fail = True
    now[0] = 100.0
    assert watch.check(is_maintainer=True) == []
    registry.fail = False
    now[0] = 120.0
    assert watch.check(is_maintainer=True) == []  # the gap is not blamed on A
    assert store.tasks[0].state == State.RUNNING


def test_the_silence_limit_comes_from_the_environment_and_must_span_heart_beats() -> None:
    assert ClusterSettings.from_env({"PYOBSHELL_EXECUTOR_SILENCE_S": "12"}).executor_silence_s == 12.0
    with pytest.raises(SettingsError, match="at least three heart-beats"):
        ClusterSettings.from_env({"PYOBSHELL_EXECUTOR_SILENCE_S": "3"})
    with pytest.raises(SettingsError, match="PYOBSHELL_EXECUTOR_SILENCE_S='soon' is not a number of seconds"):
        ClusterSettings.from_env({"PYOBSHELL_EXECUTOR_SILENCE_S": "soon"})


def test_a_sub_task_handed_to_an_agent_that_died_before_starting_it_is_failed_too() -> None:
    registry = FakeRegistry({A: 1})
    store = FakeStore([running(11, A, State.READY), running(12, A, State.PENDING)])
    now = [0.0]
    watch = ExecutorWatch(store, registry, ME, silence_s=30.0, wake=lambda: None, clock=lambda: now[0])
    watch.check(is_maintainer=True)
    now[0] = 31.0
    assert [task.id for task in watch.check(is_maintainer=True)] == [11]
    assert "agent 10.0.0.2:2886, which was handed this sub task, has sent no heart-beat for 31 s" in store.logs[11]
    assert store.tasks[1].state == State.PENDING  # not handed to anyone yet: nothing to fail
