"""What a person sees of a DAG: its nodes grouped into sections — packages, checks (backup,
checker and pre scripts), each zone (or all servers at once when stopping service), finish
(post script, restore), cleanup — each with its state, current node, elapsed time and latest
log line.

Sections come from the node names alone (``Stop zone1`` … ``Start zone1`` and the health
check just before ``Stop zone1`` belong to zone1), so any upgrade DAG — followed right after
it was created or found again by id — is shown the same way; a DAG that is not an upgrade is
one section, and a multi-hop upgrade prefixes its sections with "hop N". Everything here is pure: :func:`build_view` takes the DTO and a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from pyobshell.wire.task import ZERO_TIME, DagDetailDTO, NodeDetailDTO, TaskDetailDTO

HOP_START = "Backup parameters"
HEALTH_CHECK = "Execute upgrade health checker script"
REINSTALL = "Reinstall and restart observer"
POST_SCRIPT = "Execute upgrade post script"
FINALIZE_GATE = "Wait for approval to finalize"
AFTER_ZONE = ("Soak after ", "Wait for approval after ")  # operator gates: part of their zone
CLEANUP_NODE = "Remove upgrade check task dir"
PREPARE, CHECKS, ALL_SERVERS, FINISH, CLEANUP, TASK = (
    "packages", "checks", "all servers", "finish", "cleanup", "task")

SUCCEED, FAILED, RUNNING, PENDING, READY = "SUCCEED", "FAILED", "RUNNING", "PENDING", "READY"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time of the task API; None for Go's zero time (not set yet)."""
    if not text or text == ZERO_TIME:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def elapsed_seconds(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, ((end or now) - start).total_seconds())


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def section_names(names: Sequence[str]) -> list[str]:
    """The section of every node, in order (see the module doc)."""
    hops = sum(1 for name in names if name == HOP_START)
    if hops == 0:
        return [TASK] * len(names)
    sections, hop, zone, phase = [], 0, None, CHECKS
    for i, name in enumerate(names):
        following = names[i + 1] if i + 1 < len(names) else ""
        previous = sections[-1] if sections else ""
        if name == HOP_START:
            hop, zone, phase = hop + 1, None, CHECKS
        if name.startswith("Stop "):
            zone = name.removeprefix("Stop ")
        if name in (POST_SCRIPT, FINALIZE_GATE):
            phase = FINISH
        if hop == 0:
            section = PREPARE
        elif name == CLEANUP_NODE:
            section = CLEANUP
        elif zone is not None:
            section = zone
        elif name.startswith(AFTER_ZONE):
            section = name.removeprefix(next(p for p in AFTER_ZONE if name.startswith(p)))
        elif name == HEALTH_CHECK and following.startswith("Stop "):
            section = following.removeprefix("Stop ")
        elif name == REINSTALL or (name == HEALTH_CHECK and previous.endswith(ALL_SERVERS)):
            section = ALL_SERVERS  # stop-service: every observer at once
        else:
            section = phase
        if hops > 1 and section not in (PREPARE, CLEANUP):
            section = f"hop {hop} {section}"
        sections.append(section)
        if name.startswith("Start "):
            zone = None
    return sections


def section_state(states: Sequence[str]) -> str:
    """FAILED if a node failed, SUCCEED when all did, RUNNING once one started, else PENDING."""
    if FAILED in states:
        return FAILED
    if all(s == SUCCEED for s in states):
        return SUCCEED
    if RUNNING in states or SUCCEED in states:
        return RUNNING
    return PENDING


@dataclass(frozen=True)
class NodeView:
    stage: int  # 1-based, the DAG's stage number of this node
    id: str
    name: str
    state: str
    section: str
    seconds: float | None
    latest_log: str
    sub_tasks: tuple[TaskDetailDTO, ...]


@dataclass(frozen=True)
class SectionView:
    name: str
    nodes: tuple[NodeView, ...]
    seconds: float | None

    @property
    def state(self) -> str:
        return section_state([n.state for n in self.nodes])

    @property
    def done(self) -> int:
        return sum(1 for n in self.nodes if n.state == SUCCEED)

    @property
    def current(self) -> NodeView:
        """The node that matters now: failed or running, else the next to run, else the last."""
        for wanted in ((FAILED, RUNNING), (PENDING, READY)):
            for node in self.nodes:
                if node.state in wanted:
                    return node
        return self.nodes[-1]

    @property
    def latest_log(self) -> str:
        return next((n.latest_log for n in reversed(self.nodes) if n.latest_log), "")


@dataclass(frozen=True)
class DagView:
    id: str
    name: str
    state: str
    operator: str
    stage: int
    max_stage: int
    seconds: float | None
    sections: tuple[SectionView, ...]
    nodes: tuple[NodeView, ...]
    pause: str = ""  # what a pause means for the reader ("" when not paused)

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEED, FAILED)

    @property
    def failed_nodes(self) -> list[NodeView]:
        return [n for n in self.nodes if n.state == FAILED]


def _latest_log(node: NodeDetailDTO) -> str:
    tasks = node.sub_tasks or []
    # The sub-task that fails or runs says most; among equals the last one.
    ordered = sorted(tasks, key=lambda t: {FAILED: 2, RUNNING: 1}.get(t.state, 0))
    for task in reversed(ordered):
        if task.task_logs:
            return task.task_logs[-1]
    return ""


def build_view(dag: DagDetailDTO, now: datetime | None = None) -> DagView:
    now = now or datetime.now(timezone.utc)
    nodes_in = dag.nodes or []
    names = section_names([n.name for n in nodes_in])
    nodes = tuple(
        NodeView(stage=i, id=n.id, name=n.name, state=n.state, section=section,
                 seconds=elapsed_seconds(parse_time(n.start_time), _end(n.state, n.end_time), now),
                 latest_log=_latest_log(n), sub_tasks=tuple(n.sub_tasks or ()))
        for i, (n, section) in enumerate(zip(nodes_in, names), start=1)
    )
    sections: dict[str, list[NodeView]] = {}
    for node in nodes:
        sections.setdefault(node.section, []).append(node)
    section_views = tuple(SectionView(name, tuple(members), _span(members, nodes_in, now))
                          for name, members in sections.items())
    return DagView(id=dag.id, name=dag.name, state=dag.state, operator=dag.operator, stage=dag.stage,
                   max_stage=dag.max_stage,
                   seconds=elapsed_seconds(parse_time(dag.start_time), _end(dag.state, dag.end_time), now),
                   sections=section_views, nodes=nodes, pause=pause_line(dag))


def pause_line(dag: DagDetailDTO) -> str:
    """A paused DAG in one line: a gate waits for approval, any other pause names its reason;
    both say the command that goes on."""
    pause = (dag.additional_data or {}).get("pause")
    if not isinstance(pause, dict):
        return ""
    resume = f"pyobshell task resume {dag.id}"
    if pause.get("gate"):
        return f"waiting for approval — {resume} ({pause['gate']})"
    reason = str(pause.get("reason") or "paused")
    if not pause.get("in_effect", True):
        return f"pausing after the running step — {reason}; then: {resume}"
    return f"paused — {reason}; go on with: {resume}"


def _end(state: str, end_time: str) -> datetime | None:
    """The end of something finished (a running node's end_time is its start: not an end)."""
    return parse_time(end_time) if state in (SUCCEED, FAILED) else None


def _span(members: list[NodeView], nodes: Sequence[NodeDetailDTO], now: datetime) -> float | None:
    """From the first start to the last end of a section's nodes (now while one runs)."""
    dtos = [nodes[m.stage - 1] for m in members]
    starts = [t for t in (parse_time(n.start_time) for n in dtos) if t is not None]
    if not starts:
        return None
    ends = [t for t in (parse_time(n.end_time) for n in dtos) if t is not None]
    running = section_state([m.state for m in members]) == RUNNING
    end = now if running or not ends else max(ends)
    return max(0.0, (end - min(starts)).total_seconds())
