"""The persistent DAG task engine (obshell's task model, event-driven scheduling).

Main entry points: :class:`TaskEngine` (store + scheduler + executor), :class:`TaskStore`,
:class:`TemplateBuilder`, :class:`Task` with :func:`register_task_type`, and
:class:`TaskService` (the functions behind the task API).
"""

from pyobshell.engine.context import TaskContext
from pyobshell.engine.runner import TaskEngine
from pyobshell.engine.generic_id import GenericId, decode_generic_id, encode_cluster_id, encode_local_id
from pyobshell.engine.model import AgentInfo, DagType, Maintainer, MaintenanceType, NodeType, Operator, State
from pyobshell.engine.observers import FinishedNode, NodeObserver, NodeObservers
from pyobshell.engine.schema import StoreKind
from pyobshell.engine.service import TaskOwnedByOtherAgent, TaskService, TaskServices
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import (
    DEFAULT_REGISTRY,
    Task,
    TaskInterrupted,
    TaskRegistry,
    WaitOperator,
    register_task_type,
)
from pyobshell.engine.template import Node, Template, TemplateBuilder

__all__ = [
    "DEFAULT_REGISTRY", "AgentInfo", "DagType", "FinishedNode", "GenericId", "Maintainer", "MaintenanceType",
    "Node", "NodeObserver", "NodeObservers", "NodeType", "Operator", "State", "StoreKind", "Task",
    "TaskContext", "TaskEngine", "TaskInterrupted", "TaskOwnedByOtherAgent", "TaskRegistry",
    "TaskService", "TaskServices", "TaskStore", "Template", "TemplateBuilder", "WaitOperator",
    "decode_generic_id", "encode_cluster_id", "encode_local_id", "register_task_type",
]
