"""Who a simulated observer is. Kept apart from the SQL session so that ``bin/observer`` can
read its plan and daemonize before it imports the SQL stack (as the real binary forks at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ObserverInfo:
    """Who answers: the simulated observer a session belongs to."""

    ip: str
    rpc_port: int
    sql_port: int
    version: str
    release: str
    state_dir: Path

    @property
    def server_version(self) -> str:
        return f"5.7.25-OceanBase_CE-v{self.version}"
