"""Executors that stop heart-beating: the maintainer fails their running sub-tasks.

Every agent of the cluster writes a heart-beat into its ``all_agent`` row every ``renew_s``.
The maintainer watches the executors of the cluster's READY (handed over, not started yet)
and RUNNING sub-tasks; one whose heart-beat
has not changed for ``executor_silence_s`` is taken for dead, and its sub-tasks are failed with
a log naming it and how long it has been silent, so the DAG ends and an operator can RETRY
(once it is back) or ROLLBACK. An agent that comes back in time needs nothing: it resumes its
own copies, and a copy the maintainer already failed is refused when it reports.

Silence is measured on the maintainer's own monotonic clock, and only over time in which it
could read the store: when its own reads fail (say, every observer is down during a
stop-service upgrade) or it has just become the maintainer, every agent gets a fresh grace
period, so a pause that silenced everyone is never blamed on one agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyobshell.cluster.agent_registry import AgentRegistry
from pyobshell.engine.model import AgentInfo, State
from pyobshell.engine.rows import SubTaskRow
from pyobshell.engine.store import TaskStore

log = logging.getLogger(__name__)

SILENT_EXECUTOR_LOG = ("ERROR: agent {agent}, which {role} this sub task, has sent no heart-beat for {silent:.0f} s "
                       "(limit {limit:g} s): taken for dead. Start that agent again, then RETRY this DAG; "
                       "or ROLLBACK")
ROLE = {State.RUNNING: "runs", State.READY: "was handed"}  # READY: dispatched, not yet started there


@dataclass
class SilenceClock:
    """How long each agent's heart-beat has stayed the same, as this agent has seen it."""

    _seen: dict[AgentInfo, tuple[object, float]] = field(default_factory=dict)
    _blind: bool = True  # nothing seen yet, or a read failed: the next read starts every clock afresh

    def observe(self, beats: dict[AgentInfo, object], now: float) -> None:
        for agent, beat in beats.items():
            last = self._seen.get(agent)
            if self._blind or last is None or last[0] != beat:
                self._seen[agent] = (beat, now)
        for gone in set(self._seen) - set(beats):
            del self._seen[gone]
        self._blind = False

    def lost_sight(self) -> None:
        self._blind = True

    def silent_for(self, agent: AgentInfo, now: float) -> float:
        last = self._seen.get(agent)
        return 0.0 if last is None or self._blind else now - last[1]


class ExecutorWatch:
    """One round every ``renew_s`` (in a worker thread): beat, and on the maintainer, fail the
    sub-tasks of executors silent for ``silence_s``."""

    def __init__(self, store: TaskStore, registry: AgentRegistry, me: AgentInfo, silence_s: float,
                 wake: Callable[[], None], clock: Callable[[], float] = time.monotonic):
        self.store, self.registry, self.me = store, registry, me
        self.silence_s = silence_s
        self.wake = wake
        self.clock = clock
        self.silence = SilenceClock()

    def beat(self) -> None:
        try:
            self.registry.heartbeat(self.me)
        except Exception as exc:  # the store is unreachable: the watchers' clocks allow for that
            log.debug("heart-beat not written: %s", exc)

    def check(self, is_maintainer: bool) -> list[SubTaskRow]:
        """Fail the ready or running sub-tasks of silent executors (on the maintainer); the ones failed."""
        if not is_maintainer:
            self.silence.lost_sight()
            return []
        try:
            beats = self.registry.heartbeats()
            with self.store.read() as conn:
                running = self.store.subtasks_in_states(conn, (State.READY, State.RUNNING))
        except Exception as exc:
            log.info("cannot watch the executors this round: %s", exc)
            self.silence.lost_sight()
            return []
        now = self.clock()
        self.silence.observe(beats, now)
        failed = [task for task in running if task.agent != self.me and self._fail_if_silent(task, now)]
        if failed:
            self.wake()
        return failed

    def _fail_if_silent(self, task: SubTaskRow, now: float) -> bool:
        silent = self.silence.silent_for(task.agent, now)
        if silent < self.silence_s:
            return False
        reason = SILENT_EXECUTOR_LOG.format(agent=task.agent, role=ROLE[task.state], silent=silent,
                                            limit=self.silence_s)
        with self.store.transaction() as conn:
            failed = self.store.subtask_fail(conn, task, reason)
        if failed:
            log.warning("sub task %d failed: its executor %s has been silent for %.0f s", task.id, task.agent, silent,
                        extra={"task_id": task.id})
        return failed
