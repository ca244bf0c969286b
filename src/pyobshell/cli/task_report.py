"""What is printed about a DAG once it stopped: its nodes, and after a failure the failed
node's logs and the exact commands that retry it, roll it back or pass it."""

from __future__ import annotations

from typing import Any

import typer

from pyobshell.cli.dag_view import FAILED, SUCCEED, DagView, NodeView, build_view, format_elapsed
from pyobshell.cli.output import EXIT_FAILED, Output
from pyobshell.cli.probe_view import probe_summary
from pyobshell.wire.task import DagDetailDTO


def next_steps(gid: str, agent: str, failed: NodeView | None) -> list[tuple[str, str]]:
    """(what it does, command) for a failed DAG, the safest first."""
    base = f"--agent {agent}"
    steps = [("retry the failed step", f"pyobshell task retry {gid} {base}"),
             ("roll the task back", f"pyobshell task rollback {gid} {base}")]
    if failed is not None:
        steps.append(("skip the failed step and go on", f"pyobshell task pass {failed.id} --node {base}"))
    steps.append(("end the task as passed (the remaining steps never run)", f"pyobshell task pass {gid} {base}"))
    return steps


def failed_node_logs(node: NodeView) -> list[str]:
    """Every log line of the node's failed sub-tasks (all sub-tasks if none is marked failed)."""
    tasks = [t for t in node.sub_tasks if t.state == FAILED] or list(node.sub_tasks)
    lines = []
    for task in tasks:
        where = f"{task.execute_agent.ip}:{task.execute_agent.port}"
        lines.append(f"sub-task {task.id} '{task.name}' on {where}, attempt {task.execute_times}, {task.state}:")
        lines += [f"    {line}" for line in task.task_logs or ["(no log)"]]
    return lines


def print_failure(out: Output, view: DagView, agent: str) -> None:
    failed = view.failed_nodes
    node = failed[-1] if failed else None
    out.say(f"Task {view.id} '{view.name}' FAILED" + (f" at stage {node.stage}/{view.max_stage}: {node.name}"
                                                      if node else ""), style="bold red")
    if node is not None:
        out.say(f"Logs of the failed step ({node.section}, node {node.id}):")
        for line in failed_node_logs(node):
            out.say(f"  {line}")
    out.say("What you can do now:")
    for what, command in next_steps(view.id, agent, node):
        out.say(f"  {what}:")
        out.say(f"    {command}", style="bold")


def print_nodes(out: Output, view: DagView) -> None:
    out.say(f"Task {view.id} '{view.name}': {view.state} (operator {view.operator}), stage "
            f"{view.stage}/{view.max_stage}, {format_elapsed(view.seconds) or 'not started'}")
    rows = [(n.stage, n.section, n.name, n.state, format_elapsed(n.seconds), n.id, n.latest_log[:80])
            for n in view.nodes]
    out.table("steps", ("#", "section", "step", "state", "elapsed", "node id", "latest log"), rows)


def outcome(dag: DagDetailDTO, agent: str) -> dict[str, Any]:
    """The JSON document of a finished (or stopped) DAG, with the next steps after a failure."""
    document: dict[str, Any] = {"task": dag.model_dump(), "succeeded": dag.state == SUCCEED}
    if dag.state == FAILED:
        view = build_view(dag)
        node = view.failed_nodes[-1] if view.failed_nodes else None
        document["failed_node"] = None if node is None else {
            "id": node.id, "stage": node.stage, "name": node.name, "logs": failed_node_logs(node)}
        document["next_steps"] = [{"what": what, "command": command}
                                  for what, command in next_steps(dag.id, agent, node)]
    return document


def report_end(out: Output, dag: DagDetailDTO, agent: str, *, upgrade: bool = False,
               extra: dict[str, Any] | None = None) -> None:
    """How the task ended (with the failed step's logs and the next commands); exit 1 unless it
    succeeded — for an upgrade, a rollback is not a success."""
    view = build_view(dag)
    rolled_back = dag.state == SUCCEED and dag.operator == "ROLLBACK"
    succeeded = dag.state == SUCCEED and not (upgrade and rolled_back)
    if out.json_mode:
        out.emit({**(extra or {}), **outcome(dag, agent), "succeeded": succeeded})
    else:
        for line in probe_summary(dag):  # what clients saw, per zone
            out.say(line)
        if dag.state == FAILED:
            print_failure(out, view, agent)
        elif rolled_back:
            out.say(f"Task {dag.id} '{dag.name}' was rolled back.", style="yellow")
        else:
            out.say(f"Congratulations! Task {dag.id} '{dag.name}' completed successfully "
                    f"(operator {dag.operator}).", style="bold green")
    if not succeeded:
        raise typer.Exit(EXIT_FAILED)
