"""The cluster at a glance, as ``GET /api/v1/ob/info`` answers it (obshell's ``ObInfoResp``, plus
``zones`` and ``maintainer``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pyobshell.wire.agent import AgentInfo


class AgentInstance(BaseModel):
    ip: str
    port: int
    zone: str
    identity: str
    version: str


class ServerConfig(BaseModel):
    svr_ip: str
    svr_port: int
    sql_port: int
    agent_port: int = Field(description="the port of the agent beside it (0: none registered)")
    with_rootserver: str
    status: str
    build_version: str
    in_service: bool | None = Field(default=None, description="pyobshell: ACTIVE, in service and not stopped")
    leader_count: int | None = Field(
        default=None, description="pyobshell: log stream leaders it holds, every tenant (null: not readable now)")


class ClusterConfig(BaseModel):
    id: int
    name: str
    version: str = Field(description="the lowest build any server runs, version-build")
    topology: dict[str, list[ServerConfig]]


class ZoneStatus(BaseModel):
    zone: str
    status: str


class ObInfo(BaseModel):
    agent_info: list[AgentInstance]
    obcluster_info: ClusterConfig
    zones: list[ZoneStatus] = Field(description="pyobshell: every zone's status")
    maintainer: AgentInfo | None = Field(default=None, description="pyobshell: the current maintainer")
