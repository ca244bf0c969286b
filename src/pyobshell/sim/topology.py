"""What `sim up` was asked for and the hosts it plans from that: shared by the cluster and
its agents, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyobshell.sim.package_builder import BuildVersion
from pyobshell.sim.settings import SimSettings

DEFAULT_SQL_PORT, DEFAULT_RPC_PORT, DEFAULT_AGENT_PORT = 2881, 2882, 2886


class SimError(Exception):
    """`sim up`/`sim down` cannot do what was asked; the message says why and what to do."""


@dataclass
class UpRequest:
    directory: Path
    zones: int
    servers_per_zone: int
    version: str
    release: str
    root_password: str = ""
    net: int = 0
    agents: bool = True
    sql_port: int = DEFAULT_SQL_PORT
    rpc_port: int = DEFAULT_RPC_PORT
    agent_port: int = DEFAULT_AGENT_PORT
    settings: SimSettings = field(default_factory=SimSettings.realistic)
    ready_timeout: float = 60.0

    def validate(self) -> None:
        if not 1 <= self.zones <= 254:
            raise SimError(f"--zones must be between 1 and 254, got {self.zones}")
        if not 1 <= self.servers_per_zone <= 254:
            raise SimError(f"--servers-per-zone must be between 1 and 254, got {self.servers_per_zone}")
        if not 0 <= self.net <= 255:
            raise SimError(f"--net must be between 0 and 255, got {self.net}")
        for name, port in (("sql", self.sql_port), ("rpc", self.rpc_port), ("agent", self.agent_port)):
            if not 1 <= port <= 65535:
                raise SimError(f"the {name} port must be between 1 and 65535, got {port}")
        try:
            BuildVersion.parse(self.version, self.release)
        except ValueError as error:
            raise SimError(str(error)) from None


@dataclass(frozen=True)
class Host:
    zone: str
    ip: str
    home: Path  # the observer home
    agent_home: Path


def host_ip(net: int, zone: int, server: int) -> str:
    return f"127.{net}.{zone}.{server}"


def plan_hosts(request: UpRequest) -> list[Host]:
    root = request.directory.resolve()
    hosts = []
    for z in range(1, request.zones + 1):
        for s in range(1, request.servers_per_zone + 1):
            ip = host_ip(request.net, z, s)
            hosts.append(Host(f"zone{z}", ip, root / "hosts" / ip / "oceanbase", root / "hosts" / ip / "agent"))
    return hosts
