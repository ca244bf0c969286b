"""The maintainer's dispatcher sends each sub-task as the scheduler's pass wrote it.

It holds no cluster store at all: when a parallel node restarts every observer at once, the
maintainer's own copy may take its observer (its way to the cluster store) down while the
other copies are still being sent, and they must go out all the same.
"""

from __future__ import annotations

import threading
from typing import Any

from pyobshell.cluster.peer_client import PeerCallError
from pyobshell.cluster.remote_dispatch import SUB_TASK_RPC, RemoteDispatcher
from pyobshell.engine import AgentInfo, TaskContext
from pyobshell.engine.model import Operator, State
from pyobshell.engine.remote_copies import RemoteTask
from pyobshell.engine.rows import SubTaskRow

ME, PEER_A, PEER_B = AgentInfo("127.0.0.1", 2886), AgentInfo("127.0.0.2", 2886), AgentInfo("127.0.0.3", 2886)


def row(task_id: int, agent: AgentInfo, execute_times: int = 1) -> SubTaskRow:
    return SubTaskRow(id=task_id, node_id=7, name="Reinstall and restart observer", struct_name="Reinstall",
                      agent=agent, execute_times=execute_times, can_cancel=True, can_continue=False, can_pass=False,
                      can_retry=True, can_rollback=True, context=TaskContext().set_param("hop", 0),
                      state=State.READY, operator=Operator.RUN, start_time=None, end_time=None)


class Receiver:
    """The maintainer's own copies: the first one takes 'the observer' down."""

    def __init__(self, observer_up: threading.Event, done: threading.Semaphore):
        self.observer_up = observer_up
        self.done = done
        self.accepted: list[RemoteTask] = []
        self.cancelled: list[RemoteTask] = []

    def accept(self, task: RemoteTask) -> int:
        self.accepted.append(task)
        self.observer_up.clear()
        self.done.release()
        return task.task_id

    def cancel(self, task: RemoteTask) -> bool:
        self.cancelled.append(task)
        self.done.release()
        return True


class Peers:
    """Other agents; ``done`` counts every delivery (a peer call or a local copy)."""

    def __init__(self, refuse: AgentInfo | None = None):
        self.refuse = refuse
        self.calls: list[tuple[AgentInfo, str, str, dict[str, Any]]] = []
        self.keys_asked: list[AgentInfo] = []
        self.done = threading.Semaphore(0)

    def learn_key(self, agent: AgentInfo) -> None:
        self.keys_asked.append(agent)

    def call(self, agent: AgentInfo, method: str, path: str, body: dict[str, Any]) -> Any:
        try:
            self.calls.append((agent, method, path, body))
            if agent == self.refuse:
                raise PeerCallError("connection refused")
        finally:
            self.done.release()


def wait_calls(peers: Peers, count: int) -> None:
    for _ in range(count):
        assert peers.done.acquire(timeout=5)


def test_every_copy_is_sent_as_written_even_after_the_own_copy_took_the_observer_down() -> None:
    observer_up = threading.Event()
    observer_up.set()
    peers = Peers()
    receiver = Receiver(observer_up, peers.done)
    dispatcher = RemoteDispatcher(ME, receiver, peers)  # type: ignore[arg-type]
    try:
        dispatcher.submit(row(11, ME))
        dispatcher.submit(row(12, PEER_A, execute_times=3))
        dispatcher.submit(row(13, PEER_B))
        wait_calls(peers, 3)
    finally:
        dispatcher.close()
    assert [t.task_id for t in receiver.accepted] == [11]
    assert not observer_up.is_set()
    sent = {agent: body for agent, method, path, body in peers.calls if (method, path) == ("POST", SUB_TASK_RPC)}
    assert set(sent) == {PEER_A, PEER_B}
    assert sent[PEER_A]["task_id"] == 12 and sent[PEER_A]["execute_times"] == 3
    assert sent[PEER_A]["context"]["Params"]["hop"] == 0
    assert RemoteTask.from_json(sent[PEER_B]).executer_agent == PEER_B
    assert peers.keys_asked == [PEER_A, PEER_B]  # looked up before anything is sent


def test_a_peer_that_refuses_does_not_hold_up_the_others_and_is_sent_again() -> None:
    peers = Peers(refuse=PEER_A)
    dispatcher = RemoteDispatcher(ME, Receiver(threading.Event(), peers.done), peers)  # type: ignore[arg-type]
    try:
        dispatcher.submit(row(21, PEER_A))
        dispatcher.submit(row(22, PEER_B))
        wait_calls(peers, 2)
        dispatcher.submit(row(21, PEER_A))  # the next pass hands the READY row over again
        wait_calls(peers, 1)
    finally:
        dispatcher.close()
    assert [(agent, body["task_id"]) for agent, _, _, body in peers.calls].count((PEER_A, 21)) == 2
    assert (PEER_B, 22) in [(agent, body["task_id"]) for agent, _, _, body in peers.calls]


def test_cancel_and_timeout_reach_the_copy_named_by_the_row() -> None:
    peers = Peers()
    receiver = Receiver(threading.Event(), peers.done)
    dispatcher = RemoteDispatcher(ME, receiver, peers)  # type: ignore[arg-type]
    try:
        dispatcher.cancel(row(31, PEER_A, execute_times=2))
        dispatcher.interrupt(row(32, ME, execute_times=4))
        wait_calls(peers, 2)
    finally:
        dispatcher.close()
    ((agent, method, path, body),) = peers.calls
    assert (agent, method, path, body["task_id"], body["execute_times"]) == (PEER_A, "DELETE", SUB_TASK_RPC, 31, 2)
    assert [(t.task_id, t.execute_times) for t in receiver.cancelled] == [(32, 4)]
