"""Typed views of stored DAG, node, sub-task and log rows, plus the clock they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import (
    AgentInfo,
    DagType,
    Maintainer,
    MaintenanceType,
    NodeType,
    Operator,
    State,
)

EPOCH = datetime(1970, 1, 1)  # operators reset times to epoch 0, like obshell


def utcnow() -> datetime:
    """Stored times are naive UTC with microseconds."""
    return datetime.now(UTC).replace(tzinfo=None)


def is_after(moment: datetime | None, reference: datetime | None) -> bool:
    """``moment >= reference``, treating unset/reset times as the beginning of time."""
    if moment is None or moment <= EPOCH:
        return False
    return reference is None or moment >= reference


@dataclass
class DagRow:
    id: int
    name: str
    type: str
    stage: int
    max_stage: int
    state: State
    operator: Operator
    is_maintenance: bool
    maintainer: Maintainer
    is_finished: bool
    context: TaskContext
    start_time: datetime | None
    end_time: datetime | None
    is_paused: bool = False
    pause_reason: str = ""
    approved_stage: int = 0

    @property
    def current_stage(self) -> int:
        return max(1, min(self.stage, self.max_stage))

    @property
    def is_reservation(self) -> bool:
        """A DAG whose lock is taken while its start still checks the cluster (no nodes yet)."""
        return self.state == State.PENDING and self.max_stage == 0

    @property
    def dag_type(self) -> DagType:
        return DagType.OBPROXY if self.type == DagType.OBPROXY.value else DagType.OB

    @classmethod
    def from_mapping(cls, row: Any) -> "DagRow":
        is_maintenance = bool(row["is_maintenance"])
        maintainer = Maintainer()
        if "maintenance_type" in row:
            kind = MaintenanceType(int(row["maintenance_type"]))
            if is_maintenance and kind == MaintenanceType.NOT_UNDER_MAINTENANCE:
                kind = MaintenanceType.GLOBAL_MAINTENANCE  # rows written before the column existed
            maintainer = Maintainer(kind, row["maintenance_key"] or "")
        elif is_maintenance:
            obproxy = row["type"] == DagType.OBPROXY.value
            maintainer = Maintainer.obproxy() if obproxy else Maintainer.global_()
        return cls(
            id=int(row["id"]), name=row["name"], type=row["type"] or "", stage=int(row["stage"]),
            max_stage=int(row["max_stage"]), state=State(row["state"]), operator=Operator(row["operator"]),
            is_maintenance=is_maintenance, maintainer=maintainer, is_finished=bool(row["is_finished"]),
            context=TaskContext.decode(row["context"]), start_time=row["start_time"], end_time=row["end_time"],
            is_paused=bool(row.get("is_paused") or False), pause_reason=row.get("pause_reason") or "",
            approved_stage=int(row.get("approved_stage") or 0),
        )


@dataclass
class NodeRow:
    id: int
    name: str
    dag_id: int
    dag_stage: int
    struct_name: str
    type: NodeType
    state: State
    max_stage: int
    context: TaskContext
    operator: Operator
    start_time: datetime | None
    end_time: datetime | None

    @classmethod
    def from_mapping(cls, row: Any) -> "NodeRow":
        return cls(
            id=int(row["id"]), name=row["name"], dag_id=int(row["dag_id"]), dag_stage=int(row["dag_stage"]),
            struct_name=row["struct_name"], type=NodeType(row["type"]), state=State(row["state"]),
            max_stage=int(row["max_stage"]), context=TaskContext.decode(row["context"]),
            operator=Operator(row["operator"]), start_time=row["start_time"], end_time=row["end_time"],
        )


@dataclass
class SubTaskRow:
    id: int
    node_id: int
    name: str
    struct_name: str
    agent: AgentInfo
    execute_times: int
    can_cancel: bool
    can_continue: bool
    can_pass: bool
    can_retry: bool
    can_rollback: bool
    context: TaskContext
    state: State
    operator: Operator
    start_time: datetime | None
    end_time: datetime | None

    @classmethod
    def from_mapping(cls, row: Any) -> "SubTaskRow":
        return cls(
            id=int(row["id"]), node_id=int(row["node_id"]), name=row["name"], struct_name=row["struct_name"],
            agent=AgentInfo(row["executer_agent_ip"] or "", int(row["executer_agent_port"] or 0)),
            execute_times=int(row["execute_times"]), can_cancel=bool(row["can_cancel"]),
            can_continue=bool(row["can_continue"]), can_pass=bool(row["can_pass"]),
            can_retry=bool(row["can_retry"]), can_rollback=bool(row["can_rollback"]),
            context=TaskContext.decode(row["context"]), state=State(row["state"]),
            operator=Operator(row["operator"]), start_time=row["start_time"], end_time=row["end_time"],
        )


@dataclass
class LogRow:
    id: int
    sub_task_id: int
    execute_times: int
    log_content: str
    is_sync: bool
    create_time: datetime | None
    update_time: datetime | None

    @classmethod
    def from_mapping(cls, row: Any) -> "LogRow":
        return cls(
            id=int(row["id"]), sub_task_id=int(row["sub_task_id"]), execute_times=int(row["execute_times"]),
            log_content=row["log_content"] or "", is_sync=bool(row.get("is_sync", True)),
            create_time=row["create_time"], update_time=row["update_time"],
        )
