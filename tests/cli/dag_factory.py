"""DagDetailDTOs as the task API answers them, for the view and follow tests."""

from __future__ import annotations

from pyobshell.wire.agent import AgentInfo
from pyobshell.wire.task import ZERO_TIME, DagDetailDTO, NodeDetailDTO, TaskDetailDTO
from pyobshell.upgrade.stages import ZoneAgents, upgrade_stages
from pyobshell.wire.upgrade import UpgradeMode

T0 = "2024-01-01T10:00:00Z"


def at(seconds: int) -> str:
    return f"2024-01-01T10:{seconds // 60:02d}:{seconds % 60:02d}Z"


def sub_task(task_id: int, state: str, logs: list[str] | None = None, agent: str = "127.0.1.1") -> TaskDetailDTO:
    return TaskDetailDTO(id=f"1{task_id}", task_id=task_id, name="t", state=state, operator="RUN",
                         start_time=T0, end_time=T0, execute_times=1, execute_agent=AgentInfo(agent, 2886),
                         task_logs=logs)


def node(node_id: int, name: str, state: str, *, start: int | None = None, end: int | None = None,
         tasks: list[TaskDetailDTO] | None = None) -> NodeDetailDTO:
    return NodeDetailDTO(id=f"1{node_id}", node_id=node_id, name=name, state=state, operator="RUN",
                         start_time=at(start) if start is not None else ZERO_TIME,
                         end_time=at(end) if end is not None else ZERO_TIME, sub_tasks=tasks or [])


def dag(nodes: list[NodeDetailDTO], state: str = "RUNNING", stage: int = 1, operator: str = "RUN") -> DagDetailDTO:
    return DagDetailDTO(id="11", dag_id=1, name="OB rolling upgrade 4.2.1.1-101000062023110109.el7", stage=stage,
                        max_stage=len(nodes), maintenance_type=1, maintenance_key="", state=state, operator=operator,
                        start_time=T0, end_time=ZERO_TIME, nodes=nodes)


def upgrade_names(mode: UpgradeMode = UpgradeMode.ROLLING, hops: int = 1, zones: int = 3) -> list[str]:
    layout = [ZoneAgents(f"zone{z}", (AgentInfo(f"127.0.{z}.1", 2886),)) for z in range(1, zones + 1)]
    return [stage.name for stage in upgrade_stages(hops, mode, layout)]


def upgrade_dag(done: int, failed: bool = False) -> DagDetailDTO:
    """A 3-zone rolling upgrade whose first ``done`` stages succeeded; the next runs (or failed)."""
    nodes = []
    for i, name in enumerate(upgrade_names(), start=1):
        if i <= done:
            nodes.append(node(i, name, "SUCCEED", start=i, end=i + 1, tasks=[sub_task(i, "SUCCEED", [f"{name} ok"])]))
        elif i == done + 1:
            state = "FAILED" if failed else "RUNNING"
            nodes.append(node(i, name, state, start=i, end=i + 5 if failed else None,
                              tasks=[sub_task(i, state, [f"{name} went wrong" if failed else f"{name} running"])]))
        else:
            nodes.append(node(i, name, "PENDING"))
    return dag(nodes, state="FAILED" if failed else "RUNNING", stage=done + 1)
