"""What the HTTP layer knows about its agent: identity, process facts, and the services it serves.

The agent process (``agent.wiring``) fills it in; tests build one with just what they need.
Handlers never reach into it directly: each takes one narrow dependency from
``api.dependencies``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from pyobshell import __version__
from pyobshell.api.request_timeouts import RequestTimeouts
from pyobshell.audit.trail import AuditTrail
from pyobshell.cluster.agent_registry import AgentRegistry
from pyobshell.cluster.member import ClusterMember
from pyobshell.cluster.overview import read_overview
from pyobshell.cluster.peer_client import PeerReply
from pyobshell.engine import TaskServices
from pyobshell.metrics import AgentMetrics
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.sql import Sql
from pyobshell.ob.state import ObState
from pyobshell.ob.target import ObserverTarget
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.upgrade.packages.store import PackageStore
from pyobshell.upgrade.service import UpgradeService
from pyobshell.wire.agent import AgentIdentity, AgentInfo, AgentInfoWithIdentity, AgentStatus, ServerState
from pyobshell.wire.ob import ObInfo
from pyobshell.wire.task import DagDetailDTO

# The obshell release whose API behaviour pyobshell implements (what obshell's clients branch
# on: v2 auth only, errCode with the old numeric code, plain passwords in bodies (>= 4.2.4.0),
# 1024-bit keys (>= 4.4.2.0), /api/v1/package, sessions); its RELEASE as obshell's own builds
# from source give it. pyobshell's own version travels as pyobshellVersion.
OBSHELL_API_VERSION = "4.5.0.0"
AGENT_VERSION = f"{OBSHELL_API_VERSION}-0"
PYOBSHELL_VERSION = __version__
UPLOAD_DIR_NAME = "upload"
log = logging.getLogger(__name__)

SECURITY_NOT_READY = ErrorCode("Security.KeyPair.NotReady", ErrorKind.UNEXPECTED, "Agent key pair is not available: {}")

PeerStatuses = Callable[[], Awaitable[dict[str, AgentStatus]]]
"""Statuses of the other agents of the cluster, keyed "ip:port"; unreachable ones left out."""


class TaskBackend(Protocol):
    """The agent's task engines as the API uses them (``agent.tasks.AgentTasks``)."""

    services: TaskServices
    cluster_agent: ClusterMember | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def under_maintenance(self) -> bool: ...

    def member(self) -> ClusterMember | None: ...

    def agent_registry(self) -> AgentRegistry | None: ...

    def maintainer(self) -> AgentInfo | None: ...

    def agents_maintenance_dags(self, show_details: bool) -> list[DagDetailDTO]: ...

    def forward(self, agent: AgentInfo, method: str, uri: str, body: bytes | None,
                trace_id: str = "") -> PeerReply: ...


async def no_peers() -> dict[str, AgentStatus]:
    return {}


def _missing_public_key() -> str:
    raise SECURITY_NOT_READY("no key source configured")


def _none() -> Any:
    return None


@dataclass
class AgentState:
    ip: str
    port: int
    home: Path
    identity: AgentIdentity = AgentIdentity.SINGLE
    server_state: ServerState = ServerState.STARTING
    version: str = AGENT_VERSION
    pid: int = field(default_factory=os.getpid)
    start_at_ns: int = field(default_factory=time.time_ns)
    observer: ObserverTarget | None = None
    ob_monitor: ObStateMonitor | None = None
    ob_pool: ObConnectionPool | None = None  # root@sys SQL, failing over between observers
    public_key: Callable[[], str] = _missing_public_key
    under_maintenance: Callable[[], bool] = lambda: False
    agent_password_set: Callable[[], bool] = lambda: False
    peer_statuses: PeerStatuses = no_peers
    # Request authentication (api/auth.py). None refuses every route that is not public.
    security: AgentSecurity | None = None
    # The task engines; the app starts and stops them. None: no task API.
    tasks: TaskBackend | None = None
    upgrade: UpgradeService | None = None
    # The cluster's package store (it lives in the cluster store: None until that is open).
    package_store: Callable[[], PackageStore | None] = _none
    # The audit trail (api.audit_middleware records into it). None: nothing is recorded.
    audit: AuditTrail | None = None
    # How long a client may take over a request's head and between pieces of its body.
    request_timeouts: RequestTimeouts = field(default_factory=RequestTimeouts)
    # The agent's Prometheus metrics (GET /metrics): its own registry, open unless given a token.
    metrics: AgentMetrics = field(default_factory=AgentMetrics)

    @property
    def agent(self) -> AgentInfoWithIdentity:
        return AgentInfoWithIdentity(ip=self.ip, port=self.port, identity=self.identity)

    @property
    def upload_dir(self) -> Path:
        """Temporary files of uploads and downloads."""
        return Path(self.home) / UPLOAD_DIR_NAME

    def root_password(self) -> str:
        """The root@sys password for the agent's own SQL work.

        The last one a client proved by a real login to the observer (adopted when it changed
        in OceanBase, and kept encrypted in the agent home), else the one given at start-up
        (``OB_ROOT_PASSWORD``), else "".
        """
        if self.security is not None and self.security.root_password is not None:
            return self.security.root_password.current()
        return self.observer.password if self.observer is not None else ""

    @property
    def ob_state(self) -> ObState:
        return self.ob_monitor.state if self.ob_monitor is not None else ObState.NOT_RUNNING

    @property
    def ob_version(self) -> str:
        return self.ob_monitor.ob_version if self.ob_monitor is not None else ""

    async def refresh_ob_state(self, timeout_s: float) -> ObState:
        """obState at most one monitor interval old (a probe is a new observer session)."""
        if self.ob_monitor is None:
            return ObState.NOT_RUNNING
        return await self.ob_monitor.recent_state(timeout_s)

    def _under_maintenance(self) -> bool:
        """The local maintenance lock of the task engine when there is one (a store query)."""
        return self.tasks.under_maintenance() if self.tasks is not None else self.under_maintenance()

    async def status(self, ob_timeout_s: float) -> AgentStatus:
        ob_state = await self.refresh_ob_state(ob_timeout_s)
        return AgentStatus(
            agent=self.agent,
            state=self.server_state,
            version=self.version,
            pyobshellVersion=PYOBSHELL_VERSION,
            pid=self.pid,
            startAt=self.start_at_ns,
            port=self.port,
            obState=int(ob_state),
            sqlPort=self.observer.sql_port if self.observer is not None else None,
            underMaintenance=await anyio.to_thread.run_sync(self._under_maintenance),
        )

    def overview(self, sql: Sql) -> ObInfo:
        """Blocking: the cluster at a glance, with the agents registered and the maintainer now."""
        info = read_overview(sql, self.tasks.agent_registry() if self.tasks is not None else None)
        try:
            info.maintainer = self.tasks.maintainer() if self.tasks is not None else None
        except Exception:  # noqa: BLE001 - the lease row is informational; the rest of the answer stands
            log.warning("cannot read the maintainer lease", exc_info=True)
        return info

    async def cluster_statuses(self, ob_timeout_s: float) -> dict[str, AgentStatus]:
        """This agent's status and every peer's that answers (obshell leaves the others out)."""
        statuses = {self.agent.key(): await self.status(ob_timeout_s)}
        try:
            peers = await self.peer_statuses()
        except Exception:  # an unreachable cluster store or peer: this agent still answers
            log.exception("cannot collect the other agents' statuses")
            peers = {}
        statuses.update({key: status for key, status in peers.items() if key not in statuses})
        return statuses
