"""The one narrow dependency each handler takes: a service of the agent, or a clear error when the
agent cannot offer it yet (no cluster store, not a cluster agent, no observer)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from pyobshell.api.state import AgentState, TaskBackend
from pyobshell.audit.trail import AUDIT_UNAVAILABLE, AuditTrail
from pyobshell.cluster.member import ClusterMember
from pyobshell.engine import TaskServices
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.metrics import AgentMetrics
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.session_store import SESSIONS_UNAVAILABLE, SessionStore
from pyobshell.upgrade.packages.keyring import KEYRING_INVALID, Keyring, KeyringError, configured_keyring
from pyobshell.upgrade.packages.store import PACKAGE_STORE_UNAVAILABLE, PackageStore
from pyobshell.upgrade.service import UpgradeService

MAX_BYTES_ENV = "PYOBSHELL_PACKAGE_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 << 30  # OceanBase RPMs are a few hundred MiB



def no_keyring() -> Keyring | None:
    return None


@dataclass(frozen=True)
class UploadSettings:
    directory: Path  # temporary files of uploads and downloads
    max_bytes: int
    # The keyring uploads must be signed by (None: any package, signed or not); blocking.
    trusted_keyring: Callable[[], Keyring | None] = no_keyring


def package_keyring() -> Keyring | None:
    """The keyring ``PYOBSHELL_PACKAGE_KEYRING`` names, re-read when the file changes; 503
    ``Package.Keyring.Invalid`` when it has become unusable (the agent checked it at start)."""
    try:
        return configured_keyring()
    except KeyringError as exc:
        raise KEYRING_INVALID(str(exc)) from None


def agent_state(request: Request) -> AgentState:
    """The AgentState the app was created with."""
    return request.app.state.agent


def task_backend(request: Request) -> TaskBackend:
    tasks = agent_state(request).tasks
    if tasks is None:
        raise TASK_ENGINE_UNAVAILABLE("the task engine is not running on this agent")
    return tasks


def task_services(request: Request) -> TaskServices:
    return task_backend(request).services


def cluster_member(request: Request) -> ClusterMember:
    member = task_backend(request).member()
    if member is None:
        raise TASK_ENGINE_UNAVAILABLE("this agent is not a cluster agent yet")
    return member


def upgrade_service(request: Request) -> UpgradeService:
    service = agent_state(request).upgrade
    if service is None:
        raise OB_NOT_CONNECTED("this agent manages no observer")
    return service


def package_store(request: Request) -> PackageStore:
    store = agent_state(request).package_store()
    if store is None:
        raise PACKAGE_STORE_UNAVAILABLE("it lives in the cluster's ocs database, which this agent has not opened "
                                        "(is the observer available?)")
    return store


def upload_settings(request: Request) -> UploadSettings:
    """The agent home's ``upload`` directory; the size limit from ``PYOBSHELL_PACKAGE_MAX_BYTES``
    and the trusted keyring from ``PYOBSHELL_PACKAGE_KEYRING`` (both checked at agent start: a
    bad value stops the agent there, see ``agent.wiring``)."""
    return UploadSettings(agent_state(request).upload_dir, max_upload_bytes(), package_keyring)


def max_upload_bytes(env: dict[str, str] | None = None) -> int:
    raw = (os.environ if env is None else env).get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"{MAX_BYTES_ENV}={raw!r} is not a positive number of bytes")
    return int(raw)


def agent_security(request: Request) -> AgentSecurity | None:
    return agent_state(request).security


def session_store(request: Request) -> SessionStore:
    security = agent_security(request)
    if security is None or security.sessions is None:
        raise SESSIONS_UNAVAILABLE("this agent keeps no sessions")
    return security.sessions


def audit_trail(request: Request) -> AuditTrail:
    trail = agent_state(request).audit
    if trail is None:
        raise AUDIT_UNAVAILABLE("this agent keeps no audit trail")
    return trail


def agent_metrics(request: Request) -> AgentMetrics:
    return agent_state(request).metrics


def sys_sql(request: Request) -> ObConnectionPool:
    pool = agent_state(request).ob_pool
    if pool is None:
        raise OB_NOT_CONNECTED("this agent manages no observer")
    return pool


StateDep = Annotated[AgentState, Depends(agent_state)]
TaskBackendDep = Annotated[TaskBackend, Depends(task_backend)]
ServicesDep = Annotated[TaskServices, Depends(task_services)]
MemberDep = Annotated[ClusterMember, Depends(cluster_member)]
UpgradeDep = Annotated[UpgradeService, Depends(upgrade_service)]
StoreDep = Annotated[PackageStore, Depends(package_store)]
UploadSettingsDep = Annotated[UploadSettings, Depends(upload_settings)]
SecurityDep = Annotated[AgentSecurity | None, Depends(agent_security)]
SessionsDep = Annotated[SessionStore, Depends(session_store)]
AuditDep = Annotated[AuditTrail, Depends(audit_trail)]
SysSqlDep = Annotated[ObConnectionPool, Depends(sys_sql)]
MetricsDep = Annotated[AgentMetrics, Depends(agent_metrics)]
