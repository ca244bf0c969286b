"""The task engine's vocabulary: states, operators, DAG/node kinds, maintenance, agents.

Numbers match obshell's (both state and operator enums start at 1); DTOs show the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from pyobshell.wire.agent import AgentInfo  # noqa: F401 - contexts name agents by it (a wire shape)

DEFAULT_TIMEOUT_SECONDS = 3600
TIMEOUT_KEY = "timeout"
EXECUTE_AGENTS_KEY = "execute_agents"
FAILURE_EXIT_MAINTENANCE_KEY = "failure_exit_maintenance"
APPROVAL_GATE_KEY = "approval_gate"  # node param: the node waits for RESUME before it starts
PAUSED_STATE = "PAUSED"  # the DTO state of a paused DAG with no node running (never stored)


class State(IntEnum):
    PENDING = 1
    READY = 2
    RUNNING = 3
    FAILED = 4
    SUCCEED = 5

    @property
    def is_finished(self) -> bool:
        return self in (State.FAILED, State.SUCCEED)


class Operator(IntEnum):
    RUN = 1
    RETRY = 2
    ROLLBACK = 3
    CANCEL = 4
    PASS = 5
    # pyobshell's additions: applied to a DAG's pause flag, never stored as its operator.
    PAUSE = 6
    RESUME = 7


def state_name(value: int) -> str:
    """The DTO string of a stored state number ("" for an unknown value, like obshell)."""
    try:
        return State(value).name
    except ValueError:
        return ""


def operator_name(value: int) -> str:
    try:
        return Operator(value).name
    except ValueError:
        return ""


class DagType(str, Enum):
    OB = "ob"
    OBPROXY = "obproxy"


class NodeType(str, Enum):
    NORMAL = "normal"
    PARALLEL = "parallel"


class MaintenanceType(IntEnum):
    NOT_BOOTSTRAP = 0
    NOT_UNDER_MAINTENANCE = 1
    GLOBAL_MAINTENANCE = 2
    TENANT_MAINTENANCE = 3
    OBPROXY_MAINTENANCE = 4


@dataclass(frozen=True)
class Maintainer:
    """Which maintenance lock a DAG holds; ``key`` is the tenant name for tenant locks."""

    type: MaintenanceType = MaintenanceType.NOT_UNDER_MAINTENANCE
    key: str = ""

    @property
    def is_maintenance(self) -> bool:
        return self.type != MaintenanceType.NOT_UNDER_MAINTENANCE

    @classmethod
    def none(cls) -> "Maintainer":
        return cls()

    @classmethod
    def global_(cls) -> "Maintainer":
        return cls(MaintenanceType.GLOBAL_MAINTENANCE)

    @classmethod
    def tenant(cls, name: str) -> "Maintainer":
        return cls(MaintenanceType.TENANT_MAINTENANCE, name)

    @classmethod
    def obproxy(cls) -> "Maintainer":
        return cls(MaintenanceType.OBPROXY_MAINTENANCE)

    def combine(self, other: "Maintainer") -> "Maintainer":
        """Merge two templates' locks: none+X=X, global wins, any conflict becomes global."""
        if not self.is_maintenance:
            return other
        if not other.is_maintenance or self == other:
            return self
        return Maintainer.global_()
