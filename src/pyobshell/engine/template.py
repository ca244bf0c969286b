"""Templates: the ordered list of nodes a DAG is built from (no branching)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyobshell.engine import codes
from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import DagType, Maintainer, NodeType
from pyobshell.engine.task import Task
from pyobshell.errors import TASK_TEMPLATE_EMPTY


@dataclass
class Node:
    """One stage: a task (one sub-task, or one per execute agent when parallel)."""

    task: Task
    parallel: bool = False
    context: TaskContext | None = None

    @property
    def name(self) -> str:
        return self.task.task_name

    @property
    def task_type(self) -> type[Task]:
        return type(self.task)

    @property
    def node_type(self) -> NodeType:
        return NodeType.PARALLEL if self.parallel else NodeType.NORMAL


@dataclass
class Template:
    name: str
    type: str = ""
    maintainer: Maintainer = field(default_factory=Maintainer)
    nodes: list[Node] = field(default_factory=list)

    @property
    def dag_type(self) -> DagType:
        return DagType.OBPROXY if self.type == DagType.OBPROXY.value else DagType.OB

    def ensure_not_empty(self) -> None:
        if not self.nodes:
            raise TASK_TEMPLATE_EMPTY(self.name)


class TemplateBuilder:
    """``TemplateBuilder("Upgrade").set_maintenance(Maintainer.global_()).add_task(T()).build()``."""

    def __init__(self, name: str):
        if not name:
            raise codes.TASK_TEMPLATE_INVALID("a template needs a name")
        self._template = Template(name=name)

    def set_maintenance(self, maintainer: Maintainer) -> "TemplateBuilder":
        self._template.maintainer = maintainer
        return self

    def set_type(self, dag_type: DagType | str) -> "TemplateBuilder":
        self._template.type = DagType(dag_type).value
        return self

    def add_task(self, task: Task, parallel: bool = False) -> "TemplateBuilder":
        return self.add_node(Node(task, parallel))

    def add_node(self, node: Node) -> "TemplateBuilder":
        if not isinstance(node.task, Task):
            raise codes.TASK_TEMPLATE_INVALID(f"node {node!r} does not hold a Task")
        self._template.nodes.append(node)
        return self

    def add_template(self, other: Template) -> "TemplateBuilder":
        self._template.nodes.extend(other.nodes)
        self._template.maintainer = self._template.maintainer.combine(other.maintainer)
        return self

    def build(self) -> Template:
        return Template(self._template.name, self._template.type, self._template.maintainer,
                        list(self._template.nodes))
