"""The task API's DTOs (obshell ``task_dto.go``), with their JSON field names and order."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from pyobshell.wire.agent import AgentInfo

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: a start or end that has not happened


class TaskDetailDTO(BaseModel):
    id: str
    task_id: int
    name: str
    state: str
    operator: str
    start_time: str
    end_time: str
    additional_data: dict[str, Any] | None = None
    execute_times: int
    execute_agent: AgentInfo
    task_logs: list[str] | None = None


class NodeDetailDTO(BaseModel):
    id: str
    node_id: int
    name: str
    state: str
    operator: str
    start_time: str
    end_time: str
    additional_data: dict[str, Any] | None = None
    sub_tasks: list[TaskDetailDTO] | None = None


class DagDetailDTO(BaseModel):
    id: str
    dag_id: int
    name: str
    stage: int
    max_stage: int
    maintenance_type: int
    maintenance_key: str
    state: str
    operator: str
    start_time: str
    end_time: str
    additional_data: dict[str, Any] | None = None
    nodes: list[NodeDetailDTO] | None = None


class SubTaskLogDTO(BaseModel):
    id: int
    sub_task_id: int
    execute_times: int
    log_content: str
    is_sync: bool
    create_time: str
    update_time: str
