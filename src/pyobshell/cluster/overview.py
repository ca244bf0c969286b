"""The cluster at a glance (``GET /api/v1/ob/info``): servers, zones, builds, agents, maintainer."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from pyobshell.cluster.agent_registry import AgentRecord, AgentRegistry
from pyobshell.cluster.maintainer_election import MaintainerElection
from pyobshell.errors import ObshellError
from pyobshell.ob import leaders, parameters, servers, zones
from pyobshell.ob.leaders import LeaderViewError
from pyobshell.ob.sql import Sql
from pyobshell.versions import BuildVersion
from pyobshell.wire.agent import AgentInfo
from pyobshell.wire.ob import AgentInstance, ClusterConfig, ObInfo, ServerConfig, ZoneStatus

log = logging.getLogger(__name__)


def _lowest_build(builds: list[str]) -> str:
    versions = []
    for text in builds:
        try:
            versions.append(BuildVersion.parse(text).version)
        except ValueError:
            continue
    return str(min(versions)) if versions else ""


def _registered(registry: AgentRegistry | None) -> list[AgentRecord]:
    """The registered agents; none before this agent joined or while the cluster store is down."""
    if registry is None:
        return []
    try:
        return registry.agents()
    except SQLAlchemyError as exc:
        log.warning("the agents are left out of the overview, the cluster store does not answer: %s", exc)
        return []


def leader_counts(sql: Sql) -> dict[str, int] | None:
    """Log stream leaders by server ``ip:port``; None when the view cannot be read or trusted now."""
    try:
        found = leaders.ls_leaders(sql)
    except (LeaderViewError, ObshellError) as exc:
        log.info("leader counts left out of the overview: %s", exc)
        return None
    counts: dict[str, int] = {}
    for leader in found:
        counts[leader.server] = counts.get(leader.server, 0) + 1
    return counts


def read_overview(sql: Sql, registry: AgentRegistry | None = None) -> ObInfo:
    """Blocking: servers, zones and the cluster's identity through root@sys, the registered agents."""
    agents = [AgentInstance(ip=r.ip, port=r.port, zone=r.zone, identity=r.identity, version=r.version)
              for r in sorted(_registered(registry), key=lambda r: (r.zone, r.ip, r.port))]
    agent_port = {a.ip: a.port for a in agents}
    topology: dict[str, list[ServerConfig]] = {}
    builds = []
    counts = leader_counts(sql)
    for row in servers.servers(sql):
        build = str(row["BUILD_VERSION"] or "")
        builds.append(build)
        topology.setdefault(str(row["ZONE"]), []).append(ServerConfig(
            svr_ip=str(row["SVR_IP"]), svr_port=int(row["SVR_PORT"]), sql_port=int(row["SQL_PORT"]),
            agent_port=agent_port.get(str(row["SVR_IP"]), 0), with_rootserver=str(row["WITH_ROOTSERVER"]),
            status=str(row["STATUS"]), build_version=build, in_service=servers.in_service(row),
            leader_count=None if counts is None else counts.get(f"{row['SVR_IP']}:{int(row['SVR_PORT'])}", 0)))
    identity = parameters.cluster_identity(sql)
    cluster_id = identity.get("cluster_id", "0")
    config = ClusterConfig(id=int(cluster_id) if cluster_id.isdigit() else 0, name=identity.get("cluster", ""),
                           version=_lowest_build(builds), topology=topology)
    statuses = [ZoneStatus(zone=zone, status=status) for zone, status in zones.zone_statuses(sql)]
    return ObInfo(agent_info=agents, obcluster_info=config, zones=statuses)


def current_maintainer(election: MaintainerElection, lease_s: float) -> AgentInfo | None:
    """Blocking: the agent holding the maintainer lease now, or None."""
    row = election.read()
    if not row.is_active(lease_s) or row.agent is None:
        return None
    return row.agent
