"""An agent: its address, identity and state, as ``/api/v1/status``, ``/info`` and ``/secret`` answer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from pydantic import BaseModel, Field


@dataclass(frozen=True, order=True)
class AgentInfo:
    """An agent address; ``str()`` (and :meth:`key`) is the "ip:port" name obshell uses for it.
    A plain dataclass: hashable, and pydantic reads and writes it as ``{"ip", "port"}``."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"

    def key(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, object]:
        return {"ip": self.ip, "port": self.port}

    @classmethod
    def from_any(cls, value: object) -> "AgentInfo":
        """Accept ``{"ip","port"}`` mappings, "ip:port" strings or AgentInfo."""
        if isinstance(value, AgentInfo):
            return value
        if isinstance(value, dict) and "ip" in value and "port" in value:
            return cls(str(value["ip"]), int(value["port"]))
        if isinstance(value, str) and ":" in value:
            ip, _, port = value.rpartition(":")
            return cls(ip.strip("[]"), int(port))
        raise ValueError(f"not an agent address: {value!r}")


class ServerState(IntEnum):
    """The agent process's own state (obshell ``constant/http.go``)."""

    UNKNOWN = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3
    STOPPED = 4


class ObStateName(IntEnum):
    """obState by the names obshell's SDK gives it (``ObState.STATE_*``)."""

    PROCESS_NOT_RUNNING = 0
    PROCESS_RUNNING = 1
    CONNECTION_RESTRICTED = 2
    CONNECTION_AVAILABLE = 3

    @classmethod
    def of(cls, value: int) -> str:
        try:
            return cls(value).name
        except ValueError:
            return str(value)


class AgentIdentity(StrEnum):
    SINGLE = "SINGLE"
    MASTER = "MASTER"
    FOLLOWER = "FOLLOWER"
    CLUSTER_AGENT = "CLUSTER AGENT"
    TAKE_OVER_MASTER = "TAKE OVER MASTER"
    TAKE_OVER_FOLLOWER = "TAKE OVER FOLLOWER"
    SCALING_OUT = "SCALING OUT"
    SCALING_IN = "SCALING IN"
    UNIDENTIFIED = "UNIDENTIFIED"


class AgentInfoWithIdentity(BaseModel):
    ip: str
    port: int
    identity: AgentIdentity

    def key(self) -> str:
        return f"{self.ip}:{self.port}"


class AgentStatus(BaseModel):
    """``GET /api/v1/status``."""

    agent: AgentInfoWithIdentity
    state: ServerState
    version: str = Field(description='"<VERSION>-<RELEASE>" of the obshell API this agent implements')
    pyobshellVersion: str = Field(default="", description="pyobshell's own version")
    pid: int
    startAt: int = Field(description="start time, unix nanoseconds")
    port: int
    obState: int = Field(description="0 not running, 1 running, 2 restricted, 3 available")
    sqlPort: int | None = Field(default=None, description="omitted when unknown")
    underMaintenance: bool


class AgentDetail(BaseModel):
    """``GET /api/v1/info``."""

    pid: int
    state: ServerState
    startAt: int
    homePath: str
    obVersion: str
    architecture: str
    ip: str
    port: int
    zone: str
    identity: AgentIdentity
    version: str = Field(description='"<VERSION>-<RELEASE>" of the obshell API this agent implements (clients '
                                     'compare it with obshell versions)')
    pyobshellVersion: str = Field(default="", description="pyobshell's own version")
    isObproxyAgent: bool = False
    security: bool = Field(description="an agent password is set")
    supportedAuth: list[str] = Field(default_factory=lambda: ["v2"])


class AgentSecret(BaseModel):
    """``GET /api/v1/secret``: base64 of the PKCS#1 DER public key."""

    ip: str
    port: int
    public_key: str
