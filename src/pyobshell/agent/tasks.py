"""The agent's task engines, composed from its home, its address and its observer.

* **Local engine**: DAGs in the SQLite file ``AgentHome.store_path``; generic ids of its rows
  name this agent (``ip:port``). It is started with the agent and stopped on shutdown; a DAG
  left running by a crash is recovered at the next start (continuable sub-tasks run again,
  the others fail and wait for an operator).
* **Cluster store**: DAGs in the observer's ``ocs`` database (created if missing), reached as
  root@sys through the same SQLAlchemy store. It is opened once obState becomes AVAILABLE (3),
  retried with back-off while it stays available. Reads and operators by cluster id ("1" + id)
  work from then on; with a ``cluster_agent`` factory the agent also joins the cluster
  (:class:`~pyobshell.cluster.member.ClusterMember`: registration, maintainer election,
  the maintainer's scheduler, execution of the sub-tasks it is sent).
* **Extra task types**: ``PYOBSHELL_TASK_MODULES`` names modules (comma separated, importable
  from the agent's ``sys.path``, e.g. through ``PYTHONPATH``) that the agent imports at start,
  before it recovers any DAG. A module registers its task types with
  :func:`pyobshell.engine.register_task_type`. Tests use it to run test-only task types in a
  real agent process::

      PYTHONPATH=tests/agent PYOBSHELL_TASK_MODULES=agent_test_tasks pyobshell agent start ...
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any
from pathlib import Path

import pymysql
from pydantic import ValidationError
from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from pyobshell.cluster.member import ClusterMember
from pyobshell.cluster.agent_registry import AgentRegistry
from pyobshell.cluster.overview import current_maintainer
from pyobshell.cluster.peer_client import PeerCallError, PeerReply
from pyobshell.cluster.peer_reads import read_from_peers
from pyobshell.engine import (
    DEFAULT_REGISTRY,
    AgentInfo,
    StoreKind,
    TaskEngine,
    TaskRegistry,
    TaskService,
    TaskServices,
    TaskStore,
)
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.engine.service import DagExtras
from pyobshell.errors import ObshellError
from pyobshell.wire.task import DagDetailDTO
from pyobshell.ob.endpoints import ObserverEndpoints, SqlEndpoint
from pyobshell.ob.state import ObState
from pyobshell.ob.target import ObserverTarget

log = logging.getLogger(__name__)

TASK_MODULES_ENV = "PYOBSHELL_TASK_MODULES"
CLUSTER_DATABASE = "ocs"
CLUSTER_CONNECT_TIMEOUT_S = 5
OPEN_RETRY_FIRST_S = 1.0
OPEN_RETRY_MAX_S = 30.0

ClusterStoreOpener = Callable[[], TaskStore]
"""Blocking: create/migrate the cluster store and return it (runs in a worker thread)."""
ClusterMemberFactory = Callable[[TaskEngine, TaskStore], ClusterMember]
"""Builds this agent's cluster-mode machinery once the cluster store is open."""


class TaskModuleError(Exception):
    """A module named in PYOBSHELL_TASK_MODULES cannot be imported; one line for the operator."""


def task_module_names(env: Mapping[str, str] | None = None) -> list[str]:
    value = (os.environ if env is None else env).get(TASK_MODULES_ENV, "")
    return [name.strip() for name in value.split(",") if name.strip()]


def load_task_modules(env: Mapping[str, str] | None = None) -> list[str]:
    """Import every module named in ``PYOBSHELL_TASK_MODULES``; returns their names."""
    names = task_module_names(env)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure while importing is the module's fault, not ours
            raise TaskModuleError(f"cannot import task module {name!r} ({TASK_MODULES_ENV}): "
                                  f"{type(exc).__name__}: {exc}") from exc
        log.info("imported task module %s", name)
    return names


def cluster_store_url(target: ObserverTarget, password: str, database: str | None = CLUSTER_DATABASE) -> str:
    """``mysql+pymysql://root%40sys:...@host:port/ocs`` for the observer (user and password quoted)."""
    url = URL.create(
        "mysql+pymysql", username=target.user, password=password, host=target.host, port=target.sql_port,
        database=database, query={"charset": "utf8mb4", "connect_timeout": str(CLUSTER_CONNECT_TIMEOUT_S)},
    )  # fmt: skip
    return url.render_as_string(hide_password=False)


def cluster_connector(target: ObserverTarget, password: Callable[[], str], endpoints: ObserverEndpoints,
                      database: str | None = CLUSTER_DATABASE) -> Callable[[], pymysql.connections.Connection]:
    """Connections to the ``ocs`` database through this agent's observer, or through any other
    observer of the cluster while that one is down (with the newest root password)."""
    def open_connection(endpoint: SqlEndpoint) -> pymysql.connections.Connection:
        return pymysql.connect(host=endpoint.host, port=endpoint.port, user=target.user, password=password(),
                               database=database, charset="utf8mb4", connect_timeout=CLUSTER_CONNECT_TIMEOUT_S)

    return lambda: endpoints.connect(open_connection)


def open_cluster_store(target: ObserverTarget, password: Callable[[], str], owner: AgentInfo,
                       endpoints: ObserverEndpoints | None = None) -> TaskStore:
    """Create the ``ocs`` database if it is missing, then open (and migrate) the cluster store."""
    endpoints = endpoints or ObserverEndpoints(SqlEndpoint(target.host, target.sql_port))
    url = cluster_store_url(target, password())
    admin = create_engine(cluster_store_url(target, password(), database=None), poolclass=NullPool,
                          creator=cluster_connector(target, password, endpoints, database=None))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {CLUSTER_DATABASE}")
    except SQLAlchemyError as exc:
        raise TASK_ENGINE_UNAVAILABLE(f"cannot create the {CLUSTER_DATABASE} database: {exc}") from exc
    finally:
        admin.dispose()
    store = TaskStore(url, StoreKind.CLUSTER, owner=owner, connect=cluster_connector(target, password, endpoints))
    prefer_own_observer(store.engine, endpoints)
    return store


def prefer_own_observer(engine: Engine, endpoints: ObserverEndpoints) -> None:
    """A pooled connection to another observer is given up at checkout once this agent's own
    observer takes connections again (SQLAlchemy then connects anew, own observer first)."""
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        host, port = getattr(dbapi_connection, "host", None), getattr(dbapi_connection, "port", None)
        if host is None or endpoints.is_own(host, port) or not endpoints.is_up(endpoints.own):
            return
        raise DisconnectionError(f"a stand-in connection to {host}:{port}; the own observer is back")


class AgentTasks:
    """The local engine, plus the cluster store once OceanBase is available; ``services``
    routes generic ids to them."""

    def __init__(self, local: TaskEngine, open_cluster: ClusterStoreOpener | None = None,
                 cluster_agent: ClusterMemberFactory | None = None, password: Callable[[], str] = lambda: ""):
        self.local = local
        self.cluster_agent: ClusterMember | None = None
        self._cluster_agent_factory = cluster_agent
        self.registry = local.registry
        self.services = TaskServices(local.service)
        self._open_cluster = open_cluster
        self._opening: asyncio.Task[None] | None = None
        self._ob_available = False
        self._stopped = False
        self._password = password  # the root@sys password for requests to peers
        self.dag_extras: DagExtras | None = None  # merged into cluster DAGs' additional_data (the SQL probe)

    @classmethod
    def for_agent(cls, store_path: Path, owner: AgentInfo, open_cluster: ClusterStoreOpener | None = None,
                  registry: TaskRegistry = DEFAULT_REGISTRY,
                  cluster_agent: ClusterMemberFactory | None = None,
                  password: Callable[[], str] = lambda: "") -> "AgentTasks":
        """Open (and migrate) the local store; raises ObshellError if it cannot."""
        store = TaskStore(f"sqlite:///{store_path}", StoreKind.LOCAL, owner=owner)
        return cls(TaskEngine(store, registry), open_cluster, cluster_agent, password)

    @property
    def owner(self) -> AgentInfo:
        return self.local.store.owner

    @property
    def cluster_store(self) -> TaskStore | None:
        cluster = self.services.cluster
        return cluster.store if cluster is not None else None

    @property
    def cluster_engine(self) -> Engine | None:
        """The SQLAlchemy engine on the ``ocs`` database once the cluster store is open
        (other cluster tables, such as the package store's, live there too)."""
        store = self.cluster_store
        return store.engine if store is not None else None

    # -- lifecycle (on the application's event loop) --------------------------------------
    async def start(self) -> None:
        await self.local.start()

    async def stop(self) -> None:
        self._stopped = True
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.cancel()
            try:
                await opening
            except asyncio.CancelledError:
                pass
        if self.cluster_agent is not None:
            await self.cluster_agent.stop()
        await self.local.stop()
        self.local.close()
        store = self.cluster_store
        if store is not None:
            store.close()

    def on_ob_state(self, _old: ObState, new: ObState) -> None:
        """obState listener: open the cluster store when OceanBase becomes available."""
        self._ob_available = new == ObState.AVAILABLE
        if not self._ob_available or self._open_cluster is None or self._stopped:
            return
        if self.services.cluster is None and (self._opening is None or self._opening.done()):
            self._opening = asyncio.get_running_loop().create_task(self._open_cluster_store(), name="cluster-store")

    async def _open_cluster_store(self) -> None:
        assert self._open_cluster is not None
        delay = OPEN_RETRY_FIRST_S
        while self._ob_available and not self._stopped and self.services.cluster is None:
            try:
                store = await asyncio.to_thread(self._open_cluster)
            except Exception as exc:  # OB went away, or refused the DDL: try again while it is up
                reason = exc.message if isinstance(exc, ObshellError) else f"{type(exc).__name__}: {exc}"
                log.warning("cannot open the cluster task store (retry in %.0f s): %s", delay, reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, OPEN_RETRY_MAX_S)
                continue
            if self._stopped:
                store.close()
                return
            on_change = None
            if self._cluster_agent_factory is not None:
                self.cluster_agent = self._cluster_agent_factory(self.local, store)
                on_change = self.cluster_agent.wake
            self.services.cluster = TaskService(store, self.registry, on_change=on_change, dag_extras=self.dag_extras)
            log.info("cluster task store open (%s database)", CLUSTER_DATABASE)
            if self.cluster_agent is not None:
                await self.cluster_agent.start()

    # -- hooks for the HTTP layer ---------------------------------------------------------
    def under_maintenance(self) -> bool:
        """``underMaintenance`` of /api/v1/status: the local maintenance lock is held (blocking)."""
        return self.local.service.is_under_maintenance()

    def member(self) -> ClusterMember | None:
        """This agent's cluster membership once it has joined."""
        agent = self.cluster_agent
        return agent if agent is not None and agent.joined else None

    def agent_registry(self) -> AgentRegistry | None:
        member = self.member()
        return member.registry if member is not None else None

    def maintainer(self) -> AgentInfo | None:
        """Blocking: who runs cluster DAGs now (None when this agent is not a cluster agent)."""
        member = self.member()
        return current_maintainer(member.election, member.settings.lease_s) if member is not None else None

    def peers(self) -> list[AgentInfo]:
        """The other agents of the cluster (none before this agent has joined)."""
        registry = self.agent_registry()
        if registry is None:
            return []
        return [a for a in (AgentInfo(r.ip, r.port) for r in registry.agents()) if a != self.owner]

    def forward(self, agent: AgentInfo, method: str, uri: str, body: bytes | None, trace_id: str = "") -> PeerReply:
        """Send a request on to ``agent`` with this agent's root@sys password (obshell's manual
        forward, naming this agent as the forwarder, under the client's trace id); the reply as
        it came."""
        member = self.member()
        if member is None:
            raise PeerCallError("this agent is not a cluster agent yet")
        return member.peers.send(agent, method, uri, raw_body=body, password=self._password(),
                                 forwarded_by=self.owner, trace_id=trace_id)

    def agents_maintenance_dags(self, show_details: bool) -> list[DagDetailDTO]:
        """This agent's latest maintenance DAG and every peer's (blocking: asks the peers); agents
        that have none, or do not answer, are left out."""
        dags: list[DagDetailDTO] = []
        try:
            dags.append(self.local.service.get_maintenance_dag(show_details))
        except ObshellError as exc:
            log.debug("no local maintenance DAG: %s", exc.message)
        member, peers = self.member(), self.peers()
        if member is None or not peers:
            return dags
        query = f"?show_details={'true' if show_details else 'false'}"
        answers = read_from_peers(member.peers, peers, MAINTENANCE_DAG_PATH + query, self._password())
        for agent in (a for a in peers if a in answers):
            try:
                dags.append(DagDetailDTO.model_validate(answers[agent]))
            except ValidationError as exc:
                log.warning("agent %s answered a maintenance DAG that is not a DAG: %s", agent, exc.errors()[:1])
        return dags


MAINTENANCE_DAG_PATH = "/api/v1/task/dag/maintain/agent"
