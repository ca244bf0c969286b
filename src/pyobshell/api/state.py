"""What the HTTP layer knows about its agent: identity, process facts, and hooks to other layers."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from pyobshell import __version__
from pyobshell.agent.tasks import AgentTasks
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.wire.agent import AgentIdentity, AgentInfoWithIdentity, AgentStatus, ServerState
from pyobshell.api.secret_source import PublicKeySource
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.state import ObState
from pyobshell.ob.target import ObserverTarget

# The obshell release whose API behaviour pyobshell implements (what obshell's clients branch
# on: v2 auth only, errCode with the old numeric code, plain passwords in bodies (>= 4.2.4.0),
# 1024-bit keys (>= 4.4.2.0), /api/v1/package, sessions); its RELEASE as obshell's own builds
# from source give it. pyobshell's own version travels as pyobshellVersion.
OBSHELL_API_VERSION = "4.5.0.0"
AGENT_VERSION = f"{OBSHELL_API_VERSION}-0"
PYOBSHELL_VERSION = __version__

# Statuses of the other agents of the cluster, keyed "ip:port"; unreachable ones left out.
PeerStatuses = Callable[[], Awaitable[dict[str, AgentStatus]]]


async def no_peers() -> dict[str, AgentStatus]:
    return {}


def _missing_public_key() -> str:
    from pyobshell.api.secret_source import SECURITY_NOT_READY  # noqa: PLC0415

    raise SECURITY_NOT_READY("no key source configured")


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
    ob_pool: ObConnectionPool | None = None  # root@sys SQL for the other layers
    public_key: PublicKeySource = _missing_public_key
    under_maintenance: Callable[[], bool] = lambda: False
    agent_password_set: Callable[[], bool] = lambda: False
    peer_statuses: PeerStatuses = no_peers
    # Request authentication (api/auth.py). None refuses every route that is not public.
    security: AgentSecurity | None = None
    # The task engines (agent_tasks.py); the app starts and stops them. None: no task API.
    tasks: AgentTasks | None = None

    @property
    def agent(self) -> AgentInfoWithIdentity:
        return AgentInfoWithIdentity(ip=self.ip, port=self.port, identity=self.identity)

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
