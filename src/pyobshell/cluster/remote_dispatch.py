"""The maintainer's dispatcher: hands each ready cluster sub-task to the agent named as its
executor (obshell §3.6), and passes cancels on.

* executor is this agent: the copy is made directly (:class:`~pyobshell.cluster.task_sync.CopyReceiver`);
* another agent: ``POST /rpc/v1/task/sub_task`` with the task (``DELETE`` to cancel).

The scheduler hands a sub-task over again on every pass while it stays READY; the receiver is
idempotent by ``execute_times``. Calls run in a small thread pool so a slow or dead peer never
holds up the scheduler, and a call for a sub-task still in flight is not repeated.

The task goes out as the scheduler's pass wrote it, without reading the cluster store again:
when a parallel node restarts every observer at once, the maintainer's own copy may already
have taken its observer (and so its way to the cluster store) down while the other copies are
still being sent.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from pyobshell.cluster.peer_client import PeerCallError, PeerClient
from pyobshell.cluster.copy_receiver import CopyReceiver
from pyobshell.engine.logs import CLUSTER_SCHEDULER_TRACE, engine_logger
from pyobshell.engine.model import AgentInfo
from pyobshell.engine.remote_copies import RemoteTask
from pyobshell.engine.rows import SubTaskRow

SUB_TASK_RPC = "/rpc/v1/task/sub_task"


class RemoteDispatcher:
    def __init__(self, me: AgentInfo, receiver: CopyReceiver, peers: PeerClient, workers: int = 4):
        self.me = me
        self.receiver = receiver
        self.peers = peers
        self.log = engine_logger(__name__, CLUSTER_SCHEDULER_TRACE)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pyobshell-dispatch")
        self._lock = threading.Lock()
        self._in_flight: set[tuple[str, int]] = set()
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- Dispatcher protocol (called by the scheduler after its transaction commits) -------
    def submit(self, task: SubTaskRow) -> None:
        if task.agent != self.me:
            self.peers.learn_key(task.agent)
        self._later("send", RemoteTask.from_row(task))

    def cancel(self, task: SubTaskRow) -> None:
        self._later("cancel", RemoteTask.from_row(task))

    def interrupt(self, task: SubTaskRow) -> None:
        self._later("cancel", RemoteTask.from_row(task))  # a timed-out run is stopped the same way

    # -- internals --------------------------------------------------------------------------
    def _later(self, action: str, task: RemoteTask) -> None:
        key = (action, task.task_id)
        with self._lock:
            if self._closed or key in self._in_flight:
                return
            self._in_flight.add(key)
        try:
            self._pool.submit(self._do, action, task)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._in_flight.discard(key)

    def _do(self, action: str, task: RemoteTask) -> None:
        task_id = task.task_id
        try:
            if action == "send":
                self._send(task)
            else:
                self._cancel(task)
        except PeerCallError as exc:
            self.log.warning("%s of sub task %d to %s failed: %s", action, task_id, task.executer_agent, exc,
                             extra={"task_id": task_id})
        except Exception:
            self.log.exception("%s of sub task %d failed", action, task_id, extra={"task_id": task_id})
        finally:
            with self._lock:
                self._in_flight.discard((action, task_id))

    def _send(self, task: RemoteTask) -> None:
        if task.executer_agent == self.me:
            self.receiver.accept(task)
            return
        self.peers.call(task.executer_agent, "POST", SUB_TASK_RPC, task.to_json())

    def _cancel(self, task: RemoteTask) -> None:
        if task.executer_agent == self.me:
            self.receiver.cancel(task)
            return
        self.peers.call(task.executer_agent, "DELETE", SUB_TASK_RPC, task.to_json())
