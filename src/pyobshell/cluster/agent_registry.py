"""``all_agent``: who the cluster's agents are and how to reach them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pyobshell.engine.model import AgentInfo
from pyobshell.engine.rows import utcnow
from pyobshell.cluster.tables import all_agent

CLUSTER_AGENT = "CLUSTER AGENT"


@dataclass(frozen=True)
class AgentRecord:
    ip: str
    port: int
    zone: str = ""
    version: str = ""
    home_path: str = ""
    identity: str = CLUSTER_AGENT
    public_key: str = ""
    pid: int = 0
    architecture: str = ""

    @property
    def agent(self) -> AgentInfo:
        return AgentInfo(self.ip, self.port)

    def values(self) -> dict[str, object]:
        return dict(ip=self.ip, port=self.port, zone=self.zone, version=self.version, home_path=self.home_path,
                    identity=self.identity, public_key=self.public_key, pid=self.pid, architecture=self.architecture)


class AgentRegistry:
    def __init__(self, engine: Engine):
        self.engine = engine

    def register(self, record: AgentRecord) -> None:
        """Insert or refresh this agent's row (a restarted agent has a new pid, maybe a new key)."""
        now = utcnow()
        a = all_agent
        with self.engine.begin() as conn:
            changed = conn.execute(update(a).where(a.c.ip == record.ip, a.c.port == record.port)
                                   .values(**record.values(), gmt_modify=now)).rowcount
        if changed:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(a).values(**record.values(), gmt_create=now, gmt_modify=now))
        except IntegrityError:  # registered meanwhile (a racing start of the same agent): refresh it
            with self.engine.begin() as conn:
                conn.execute(update(a).where(a.c.ip == record.ip, a.c.port == record.port)
                             .values(**record.values(), gmt_modify=now))

    def heartbeat(self, agent: AgentInfo) -> None:
        """Count this agent's heart-beat up (a counter, so no agent's clock matters)."""
        a = all_agent
        with self.engine.begin() as conn:
            conn.execute(update(a).where(a.c.ip == agent.ip, a.c.port == agent.port)
                         .values(heartbeat=a.c.heartbeat + 1))

    def heartbeats(self) -> dict[AgentInfo, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(all_agent.c.ip, all_agent.c.port, all_agent.c.heartbeat)).all()
        return {AgentInfo(r.ip, int(r.port)): int(r.heartbeat or 0) for r in rows}

    def agents(self) -> list[AgentRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(all_agent).order_by(all_agent.c.ip, all_agent.c.port)).all()
        return [AgentRecord(r.ip, int(r.port), r.zone or "", r.version or "", r.home_path or "", r.identity or "",
                            r.public_key or "", int(r.pid or 0), r.architecture or "") for r in rows]

    def find(self, agent: AgentInfo) -> AgentRecord | None:
        for record in self.agents():
            if record.agent == agent:
                return record
        return None
