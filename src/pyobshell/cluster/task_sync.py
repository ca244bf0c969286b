"""Writing copies' progress back to the cluster store (obshell's synchronizer, §3.7–3.8).

* :meth:`TaskSync.start` (executor hook): before a copy runs, move the cluster row READY →
  RUNNING, directly over SQL, else by ``PATCH /rpc/v1/task/sub_task`` to the maintainer.
* Results and log lines are stored locally first (unsynced); :meth:`TaskSync.push` writes them
  to the cluster store the same two ways and marks them synced. It runs at once when a copy
  finishes or logs, and every ``sync_s`` for whatever failed (say, OB was unreachable).
* After a result reached the cluster, the maintainer is told (``POST /rpc/v1/task/wake``, or
  directly when it is this agent) so its scheduler advances without waiting for a tick.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from enum import Enum
from collections.abc import Callable

from pyobshell.aio import cancel_and_wait, set_event_threadsafe, wait_event
from pyobshell.cluster import maintainer_rpc
from pyobshell.cluster.peer_client import PeerCallError, PeerClient
from pyobshell.engine import remote_copies
from pyobshell.engine.model import AgentInfo, State
from pyobshell.engine.remote_copies import RemoteTask, UnsyncedLog
from pyobshell.engine.rows import SubTaskRow
from pyobshell.engine.store import TaskStore
from pyobshell.errors import ObshellError

log = logging.getLogger(__name__)

SUB_TASK_RPC = "/rpc/v1/task/sub_task"
LOG_RPC = "/rpc/v1/task/log"
WAKE_RPC = "/rpc/v1/task/wake"

MaintainerLookup = Callable[[], "AgentInfo | None"]


class Outcome(Enum):
    DONE = "done"
    REFUSED = "refused"  # the cluster row says no (stale attempt): nothing left to write
    FAILED = "failed"  # no answer: try again later


class TaskSync:
    def __init__(self, local: TaskStore, cluster: TaskStore, me: AgentInfo, peers: PeerClient,
                 maintainer: MaintainerLookup, wake_maintainer: Callable[[], None], sync_s: float = 1.0):
        self.local = local
        self.cluster = cluster
        self.me = me
        self.peers = peers
        self.maintainer = maintainer
        self.wake_maintainer = wake_maintainer
        self.sync_s = sync_s
        self._push_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # -- executor hooks (worker threads) -------------------------------------------------
    def start(self, row: SubTaskRow) -> bool:
        with self.local.read() as conn:
            mapping = remote_copies.mapping_by_local(self.local, conn, row.id)
        if mapping is None or mapping.execute_times != row.execute_times:
            return False
        task = RemoteTask.from_row(row)
        task.task_id, task.state = mapping.remote_task_id, State.RUNNING
        try:
            maintainer_rpc.update_sub_task(self.cluster, task)
            return True
        except Exception as exc:
            if _is_refusal(exc):
                log.info("cluster sub task %d cannot start: %s", task.task_id, exc)
                return False
            log.warning("cannot start cluster sub task %d directly (%s); asking the maintainer", task.task_id, exc)
        return self._rpc_to_maintainer("PATCH", SUB_TASK_RPC, task.to_json()) == Outcome.DONE

    def finished(self, row: SubTaskRow) -> None:
        # Written back from the finishing worker itself: the next node waits for this, and a
        # hop through the event loop to the sync loop's thread only adds latency.
        try:
            self.push()
        except Exception as exc:  # the sync loop tries again
            log.info("writing back cluster copy %d failed (%s); the sync loop retries", row.id, exc)
            self.push_soon()

    def logged(self, _row: SubTaskRow) -> None:
        self.push_soon()

    # -- loop ----------------------------------------------------------------------------
    def start_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="pyobshell-task-sync")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def push_soon(self) -> None:
        set_event_threadsafe(self._loop, self._kick)

    async def _run(self) -> None:
        assert self._kick is not None
        while True:
            self._kick.clear()
            try:
                await asyncio.to_thread(self.push)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task sync pass failed")
            await wait_event(self._kick, self.sync_s)

    # -- one pass (blocking) -------------------------------------------------------------
    def push(self) -> None:
        with self._push_lock:
            self._push_logs()
            if self._push_results():
                self.wake_maintainer()

    def _push_logs(self) -> None:
        done: list[int] = []
        for batch in _attempt_batches(remote_copies.unsynced_logs(self.local)):
            first = batch[0]
            try:
                maintainer_rpc.insert_logs(self.cluster, first.remote_task_id, first.execute_times,
                                           [line.content for line in batch])
                done += [line.id for line in batch]
                continue
            except Exception as exc:
                if _is_refusal(exc):
                    done += [line.id for line in batch]
                    continue
            # The cluster store cannot be written from here: the maintainer's RPC takes one line at a time.
            for line in batch:
                body = {"sub_task_id": line.remote_task_id, "execute_times": line.execute_times,
                        "log_content": line.content}
                if self._rpc_to_maintainer("POST", LOG_RPC, body) == Outcome.FAILED:
                    remote_copies.set_logs_synced(self.local, done)
                    return  # keep the order: try again from here on the next pass
                done.append(line.id)
        remote_copies.set_logs_synced(self.local, done)

    def _push_results(self) -> bool:
        pushed = False
        for mapping, copy in remote_copies.finished_unsynced(self.local):
            task = RemoteTask.from_row(copy)
            task.task_id = mapping.remote_task_id
            try:
                maintainer_rpc.update_sub_task(self.cluster, task)
            except Exception as exc:
                if _is_refusal(exc):  # cancelled, timed out or superseded meanwhile: nothing to write
                    log.info("result of cluster sub task %d not written: %s", task.task_id, exc)
                elif self._rpc_to_maintainer("PATCH", SUB_TASK_RPC, task.to_json()) == Outcome.FAILED:
                    continue
            remote_copies.set_synced(self.local, mapping.remote_task_id, mapping.execute_times)
            log.info("cluster sub task %d attempt %d: %s written back", task.task_id, task.execute_times,
                     task.state.name)
            pushed = True
        return pushed

    def _rpc_to_maintainer(self, method: str, path: str, body: dict) -> Outcome:
        maintainer = self.maintainer()
        if maintainer is None or maintainer == self.me:
            return Outcome.FAILED  # the maintainer would use the same store that just failed
        try:
            self.peers.call(maintainer, method, path, body)
            return Outcome.DONE
        except PeerCallError as exc:
            if exc.code.startswith(("Task.Remote", "Task.NotFound")):
                log.info("maintainer refused %s %s: %s", method, path, exc)
                return Outcome.REFUSED
            log.warning("%s %s to maintainer %s failed: %s", method, path, maintainer, exc)
            return Outcome.FAILED


def _attempt_batches(lines: list[UnsyncedLog]) -> list[list[UnsyncedLog]]:
    """Consecutive lines of the same attempt, so each batch is one cluster transaction."""
    batches: list[list[UnsyncedLog]] = []
    for line in lines:
        if batches and (batches[-1][0].remote_task_id, batches[-1][0].execute_times) == (
                line.remote_task_id, line.execute_times):
            batches[-1].append(line)
        else:
            batches.append([line])
    return batches


def _is_refusal(exc: Exception) -> bool:
    """The cluster row says no (stale attempt, not running): retrying will not help."""
    return isinstance(exc, ObshellError) and exc.code.startswith(("Task.Remote", "Task.NotFound"))
