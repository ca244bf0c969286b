"""One agent in cluster mode: join, elect, schedule (when maintainer), execute and sync.

Started by :class:`~pyobshell.agent.tasks.AgentTasks` once the cluster store is open::

    agent = ClusterMember(local_engine, cluster_store, record, home, settings, on_joined=...)
    await agent.start()     # joins in the background, retrying until the database answers
    ...
    await agent.stop()

Joining (a "take-over" of the running cluster) creates the cluster-mode tables if needed,
registers this agent in ``all_agent`` and adopts the cluster's agent token; the agent is then a
``CLUSTER AGENT`` and takes part in the maintainer election. Only the maintainer runs the
cluster scheduler; every agent executes the sub-tasks it is sent and writes them back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from pyobshell.aio import cancel_and_wait
from pyobshell.cluster.agent_registry import AgentRecord, AgentRegistry
from pyobshell.cluster.token import adopt_cluster_token
from pyobshell.cluster.coordinator import Coordinator
from pyobshell.cluster.copy_receiver import CopyReceiver
from pyobshell.cluster.liveness import ExecutorWatch
from pyobshell.cluster.maintainer_election import MaintainerElection
from pyobshell.cluster.peer_client import PeerCallError, PeerClient
from pyobshell.cluster.remote_dispatch import RemoteDispatcher
from pyobshell.cluster.settings import ClusterSettings
from pyobshell.cluster.tables import ensure_tables
from pyobshell.cluster.task_sync import WAKE_RPC, TaskSync
from pyobshell.engine.advance import DagAdvancer
from pyobshell.engine.runner import TaskEngine
from pyobshell.engine.logs import CLUSTER_SCHEDULER_TRACE
from pyobshell.engine.model import AgentInfo
from pyobshell.engine.observers import NodeObservers
from pyobshell.engine.scheduler import Scheduler
from pyobshell.engine.store import TaskStore

log = logging.getLogger(__name__)


class ClusterMember:
    def __init__(self, local: TaskEngine, cluster: TaskStore, record: AgentRecord, home: Path,
                 settings: ClusterSettings | None = None, on_joined: Callable[[], None] = lambda: None):
        self.local = local
        self.cluster = cluster
        self.record = record
        self.me = AgentInfo(record.ip, record.port)
        self.settings = settings or ClusterSettings()
        self.registry = AgentRegistry(cluster.engine)
        self.peers = PeerClient(self.registry, home, self.settings.rpc_timeout_s)
        self.receiver = CopyReceiver(local)
        self.election = MaintainerElection(cluster.engine, self.me, self.settings.lease_s)
        self.coordinator = Coordinator(self.election, self.settings)
        self.coordinator.add_listener(self._on_role)
        self.sync = TaskSync(local.store, cluster, self.me, self.peers, lambda: self.coordinator.maintainer,
                             self.wake, self.settings.sync_s)
        self.dispatcher = RemoteDispatcher(self.me, self.receiver, self.peers)
        self.scheduler = Scheduler(DagAdvancer(cluster, self.dispatcher, CLUSTER_SCHEDULER_TRACE),
                                   tick_seconds=self.settings.tick_s)
        self.watch = ExecutorWatch(cluster, self.registry, self.me, self.settings.executor_silence_s, self.wake)
        self._watch_task: asyncio.Task[None] | None = None
        self.home = home
        self.joined = False
        self._on_joined = on_joined
        self._join_task: asyncio.Task[None] | None = None
        self._scheduler_stop: asyncio.Task[None] | None = None
        self._wake_lock = threading.Lock()
        self._wake_in_flight = False
        self._wake_again = False

    @property
    def is_maintainer(self) -> bool:
        return self.coordinator.is_maintainer

    @property
    def node_observers(self) -> NodeObservers:
        """Told of every cluster DAG node this agent's scheduler finishes (while it is the maintainer)."""
        return self.scheduler.advancer.node_observers

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._join_task is None:
            self._join_task = asyncio.get_running_loop().create_task(self._join(), name="pyobshell-cluster-join")

    async def stop(self) -> None:
        join, self._join_task = self._join_task, None
        if join is not None:
            join.cancel()
            try:
                await join
            except asyncio.CancelledError:
                pass
        self.local.executor.remote_hooks = None
        watch, self._watch_task = self._watch_task, None
        await cancel_and_wait(watch)
        await self.coordinator.stop()
        await self.scheduler.stop()
        self.dispatcher.close()
        await self.sync.stop()
        self.peers.close()

    async def _join(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._join_once)
                break
            except Exception as exc:  # OB not ready, a racing DDL: try again
                log.warning("cannot join the cluster yet (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(self.settings.join_retry_s)
        self.local.executor.remote_hooks = self.sync
        self.sync.start_loop()
        self.coordinator.start()
        self._watch_task = asyncio.get_running_loop().create_task(self._watch(), name="pyobshell-executor-watch")
        self.joined = True
        log.info("agent %s is a CLUSTER AGENT", self.me)
        self._on_joined()
        # Copies that waited for the cluster (received before a restart) may start now.
        for row_id in await asyncio.to_thread(self._waiting_copies):
            self.local.executor.submit(row_id)

    async def _watch(self) -> None:
        """Heart-beat, and (on the maintainer) fail what silent executors left running."""
        while True:
            try:
                await asyncio.to_thread(self.watch.beat)
                await asyncio.to_thread(self.watch.check, self.coordinator.is_maintainer)
            except Exception:  # a failed round must not end the watch
                log.exception("executor watch round failed")
            await asyncio.sleep(self.settings.renew_s)

    def _join_once(self) -> None:
        ensure_tables(self.cluster.engine)
        adopt_cluster_token(self.cluster.engine, self.home)
        self.registry.register(self.record)

    def _waiting_copies(self) -> list[int]:
        from pyobshell.engine import remote_copies  # noqa: PLC0415
        from pyobshell.engine.model import State  # noqa: PLC0415

        with self.local.store.read() as conn:
            return [row.id for row in remote_copies.copies_in_states(self.local.store, conn, (State.READY,))]

    # -- the maintainer's scheduler ---------------------------------------------------------
    def _on_role(self, maintainer: bool) -> None:
        if maintainer:
            log.info("this agent is the maintainer: cluster scheduler starts")
            self.scheduler.start()
            self.scheduler.wake()
        else:
            log.info("this agent is no longer the maintainer: cluster scheduler stops")
            self._scheduler_stop = asyncio.get_running_loop().create_task(self.scheduler.stop())

    def wake(self) -> None:
        """Something changed in the cluster store: let the maintainer's scheduler look now.

        Thread-safe. On a watcher it is one ``POST /rpc/v1/task/wake`` to the maintainer, in
        the background (a lost wake-up only costs the scheduler's next tick).
        """
        if self.coordinator.is_maintainer:
            self.scheduler.wake()
            return
        maintainer = self.coordinator.maintainer
        if maintainer is None or maintainer == self.me:
            return
        with self._wake_lock:
            if self._wake_in_flight:
                # The call in flight may reach the maintainer before this change was committed
                # elsewhere: send one more when it returns.
                self._wake_again = True
                return
            self._wake_in_flight = True
        threading.Thread(target=self._send_wakes, args=(maintainer,), name="pyobshell-wake", daemon=True).start()

    def _send_wakes(self, maintainer: AgentInfo) -> None:
        while True:
            try:
                self.peers.call(maintainer, "POST", WAKE_RPC)
            except PeerCallError as exc:
                log.info("cannot wake the maintainer %s: %s", maintainer, exc)
                self.coordinator.check_soon()
            with self._wake_lock:
                if not self._wake_again:
                    self._wake_in_flight = False
                    return
                self._wake_again = False
