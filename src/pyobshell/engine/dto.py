"""Building the task API's DTOs (``wire.task``) from the store's rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pyobshell.engine.generic_id import encode_cluster_id, encode_local_id
from pyobshell.engine.model import APPROVAL_GATE_KEY, PAUSED_STATE, AgentInfo, State, operator_name, state_name
from pyobshell.engine.rows import DagRow, LogRow, NodeRow, SubTaskRow
from pyobshell.engine.task import TaskRegistry
from pyobshell.wire.task import ZERO_TIME, DagDetailDTO, NodeDetailDTO, SubTaskLogDTO, TaskDetailDTO

log = logging.getLogger(__name__)


def format_time(moment: datetime | None) -> str:
    """RFC 3339 in the server's zone ("Z" for UTC); unset times show Go's zero time."""
    if moment is None:
        return ZERO_TIME
    local = moment.replace(tzinfo=UTC).astimezone()
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def merge_additional_data(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Lists concatenate, maps merge recursively, anything else: the later value wins."""
    for key, value in source.items():
        current = target.get(key)
        if isinstance(current, list) and isinstance(value, list):
            target[key] = current + value
        elif isinstance(current, dict) and isinstance(value, dict):
            target[key] = merge_additional_data(dict(current), value)
        else:
            target[key] = value
    return target


def pause_data(dag: DagRow, current: NodeRow | None) -> dict[str, Any] | None:
    """``additional_data.pause`` of a paused unfinished DAG (None otherwise): why, whether it is
    in effect (no node runs: the DAG reads ``PAUSED``) or the running node is still finishing,
    and the gate node it waits at, if any."""
    if not dag.is_paused or dag.is_finished or dag.state not in (State.READY, State.RUNNING):
        return None
    running = current is not None and current.state == State.RUNNING
    at_gate = current is not None and current.state == State.PENDING and current.context.has_param(APPROVAL_GATE_KEY)
    return {"reason": dag.pause_reason, "in_effect": not running,
            "gate": current.name if at_gate and current is not None else None}


class DtoBuilder:
    """Builds DTOs for one store; ``owner`` is the agent whose generic ids local rows get."""

    def __init__(self, registry: TaskRegistry, owner: AgentInfo, is_local: bool):
        self.registry = registry
        self.owner = owner
        self.is_local = is_local

    def gid(self, row_id: int, *, obproxy: bool = False) -> str:
        if self.is_local or obproxy:
            return encode_local_id(row_id, self.owner, obproxy=obproxy)
        return encode_cluster_id(row_id)

    def additional_data(self, task: SubTaskRow) -> dict[str, Any] | None:
        if task.struct_name not in self.registry:
            return None
        try:
            instance = self.registry.create(task.struct_name)
            instance.bind(task_id=task.id, name=task.name, operator=task.operator,
                          execute_times=task.execute_times,
                          agent=task.agent, context=task.context)
            data = instance.get_additional_data()
        except Exception:  # a broken hook must not break reading the task
            log.exception("additional data of sub task %d failed", task.id)
            return None
        return dict(data) if data else None

    def sub_task(self, task: SubTaskRow, logs: list[str] | None, *, obproxy: bool = False,
                 with_data: bool = True) -> TaskDetailDTO:
        visible = task.state in (State.RUNNING, State.FAILED, State.SUCCEED)
        return TaskDetailDTO(
            id=self.gid(task.id, obproxy=obproxy), task_id=task.id, name=task.name,
            state=state_name(task.state), operator=operator_name(task.operator),
            start_time=format_time(task.start_time), end_time=format_time(task.end_time),
            additional_data=self.additional_data(task) if with_data else None,
            execute_times=task.execute_times, execute_agent=task.agent,
            task_logs=(logs or []) if visible else None,
        )

    def node(self, node: NodeRow, tasks: list[SubTaskRow] | None, logs: dict[int, list[str]], *,
             obproxy: bool = False, with_data: bool = True) -> NodeDetailDTO:
        merged: dict[str, Any] | None = None
        sub_tasks = None
        if tasks is not None:
            sub_tasks = [self.sub_task(t, logs.get(t.id), obproxy=obproxy, with_data=False) for t in tasks]
            if with_data:
                merged = self.merged_data(tasks)
        return NodeDetailDTO(
            id=self.gid(node.id, obproxy=obproxy), node_id=node.id, name=node.name,
            state=state_name(node.state), operator=operator_name(node.operator),
            start_time=format_time(node.start_time), end_time=format_time(node.end_time),
            additional_data=merged, sub_tasks=sub_tasks,
        )

    def merged_data(self, tasks: list[SubTaskRow]) -> dict[str, Any] | None:
        merged: dict[str, Any] | None = None
        for task in tasks:
            data = self.additional_data(task)
            if data:
                merged = merge_additional_data(merged or {}, data)
        return merged

    def dag(self, dag: DagRow, nodes: list[tuple[NodeRow, list[SubTaskRow]]] | None = None,
            logs: dict[int, list[str]] | None = None, current: NodeRow | None = None) -> DagDetailDTO:
        """``current``: the node at the DAG's stage, needed to tell whether a pause is in effect
        (taken from ``nodes`` when they are given)."""
        obproxy = dag.dag_type.value == "obproxy"
        node_dtos = None
        merged: dict[str, Any] | None = None
        if nodes is not None:
            node_dtos = [self.node(n, ts, logs or {}, obproxy=obproxy, with_data=False) for n, ts in nodes]
            for _node, tasks in nodes:
                data = self.merged_data(tasks)
                if data:
                    merged = merge_additional_data(merged or {}, data)
        if nodes is not None and current is None:
            current = next((n for n, _ in nodes if n.dag_stage == dag.current_stage), None)
        state = state_name(dag.state)
        pause = pause_data(dag, current)
        if pause is not None:
            merged = merge_additional_data(merged or {}, {"pause": pause})
            if pause["in_effect"]:
                state = PAUSED_STATE
        return DagDetailDTO(
            id=self.gid(dag.id, obproxy=obproxy), dag_id=dag.id, name=dag.name, stage=dag.stage,
            max_stage=dag.max_stage, maintenance_type=int(dag.maintainer.type),
            maintenance_key=dag.maintainer.key, state=state,
            operator=operator_name(dag.operator), start_time=format_time(dag.start_time),
            end_time=format_time(dag.end_time), additional_data=merged, nodes=node_dtos,
        )

    @staticmethod
    def log_entry(row: LogRow) -> SubTaskLogDTO:
        return SubTaskLogDTO(id=row.id, sub_task_id=row.sub_task_id, execute_times=row.execute_times,
                             log_content=row.log_content, is_sync=row.is_sync,
                             create_time=format_time(row.create_time), update_time=format_time(row.update_time))
