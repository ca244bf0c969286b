"""``GET /api/v1/ob/info``: the cluster at a glance, read only (root@sys or agent password).

Answers obshell's ``ObInfoResp`` shape — ``agent_info`` (every registered agent) and
``obcluster_info`` (``id``, ``name``, ``version``, ``topology``: zone → servers with their
status and build) — plus two pyobshell additions a status command needs: ``zones`` (each
zone's status, in ``DBA_OB_ZONES`` order) and ``maintainer`` (the agent that runs cluster
DAGs now, or null).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from fastapi import Request

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.routing import obshell_router
from pyobshell.errors import MYSQL_ERROR, ObshellError
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.versions import BuildVersion
from pyobshell.wire.agent import AgentInfo
from pyobshell.wire.ob import AgentInstance, ClusterConfig, ObInfo, ServerConfig, ZoneStatus

log = logging.getLogger(__name__)

router = obshell_router(prefix="/api/v1/ob", tags=["ob"], dependencies=[accepts(PASSWORD)])

SERVERS_SQL = ("SELECT SVR_IP, SVR_PORT, SQL_PORT, ZONE, WITH_ROOTSERVER, STATUS, BUILD_VERSION "
               "FROM oceanbase.DBA_OB_SERVERS ORDER BY ZONE, SVR_IP, SVR_PORT")
ZONES_SQL = "SELECT ZONE, STATUS FROM oceanbase.DBA_OB_ZONES ORDER BY ZONE"
CLUSTER_SQL = ("SELECT DISTINCT NAME, VALUE FROM oceanbase.GV$OB_PARAMETERS "
               "WHERE NAME IN ('cluster', 'cluster_id')")
AGENTS_SQL = "SELECT ip, port, zone, identity, version FROM ocs.all_agent ORDER BY zone, ip, port"


def _optional(pool: ObConnectionPool, sql: str) -> list[dict[str, Any]]:
    """Rows of something the cluster may lack (``ocs`` before agents join, a parameter)."""
    try:
        return pool.query(sql)
    except ObshellError as exc:
        if exc.error_code is not MYSQL_ERROR:
            raise
        return []


def _lowest_build(builds: list[str]) -> str:
    versions = []
    for text in builds:
        try:
            versions.append(BuildVersion.parse(text).version)
        except ValueError:
            continue
    return str(min(versions)) if versions else ""


def read_ob_info(pool: ObConnectionPool) -> ObInfo:
    """Blocking: servers, zones, cluster identity and agents through root@sys."""
    agents = [AgentInstance(ip=str(r["ip"]), port=int(r["port"]), zone=str(r["zone"]),
                            identity=str(r["identity"]), version=str(r["version"]))
              for r in _optional(pool, AGENTS_SQL)]
    agent_port = {a.ip: a.port for a in agents}
    topology: dict[str, list[ServerConfig]] = {}
    builds = []
    for row in pool.query(SERVERS_SQL):
        build = str(row["BUILD_VERSION"] or "")
        builds.append(build)
        topology.setdefault(str(row["ZONE"]), []).append(ServerConfig(
            svr_ip=str(row["SVR_IP"]), svr_port=int(row["SVR_PORT"]), sql_port=int(row["SQL_PORT"]),
            agent_port=agent_port.get(str(row["SVR_IP"]), 0), with_rootserver=str(row["WITH_ROOTSERVER"]),
            status=str(row["STATUS"]), build_version=build))
    params = {str(r["NAME"]): str(r["VALUE"]) for r in _optional(pool, CLUSTER_SQL)}
    cluster_id = params.get("cluster_id", "0")
    config = ClusterConfig(id=int(cluster_id) if cluster_id.isdigit() else 0, name=params.get("cluster", ""),
                           version=_lowest_build(builds), topology=topology)
    zones = [ZoneStatus(zone=str(r["ZONE"]), status=str(r["STATUS"])) for r in pool.query(ZONES_SQL)]
    return ObInfo(agent_info=agents, obcluster_info=config, zones=zones)


def _maintainer(request: Request) -> AgentInfo | None:
    """Blocking: who holds the maintainer lease (None when this agent is not a cluster agent)."""
    tasks = getattr(request.app.state.agent, "tasks", None)
    agent = getattr(tasks, "cluster_agent", None)
    if agent is None or not getattr(agent, "joined", False):
        return None
    row = agent.election.read()
    if not row.is_active(agent.settings.lease_s) or row.agent is None:
        return None
    return row.agent


@router.get("/info", response_model=ObInfo, summary="Servers, zones, builds, agents and maintainer")
async def get_ob_info(request: Request) -> ObInfo:
    pool: ObConnectionPool | None = request.app.state.agent.ob_pool
    if pool is None:
        raise OB_NOT_CONNECTED("this agent manages no observer")
    info = await anyio.to_thread.run_sync(read_ob_info, pool)
    try:
        info.maintainer = await anyio.to_thread.run_sync(_maintainer, request)
    except Exception:  # noqa: BLE001 - the lease row is informational; the rest of the answer stands
        log.warning("cannot read the maintainer lease", exc_info=True)
        info.maintainer = None
    return info
