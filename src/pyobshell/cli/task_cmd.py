"""`pyobshell task show|watch|retry|rollback|cancel|pass|pause|resume ID --agent IP:PORT`."""

from __future__ import annotations

from typing import Annotated

import typer

from pyobshell.cli.agent_access import AgentOption, JsonOption, connect, root_password
from pyobshell.cli.dag_follow import follow_to_end
from pyobshell.cli.dag_view import FAILED, SUCCEED, build_view
from pyobshell.cli.output import CommandFailed, Output, reported
from pyobshell.cli.report_view import print_report
from pyobshell.cli.task_report import print_failure, print_nodes, report_end
from pyobshell.client import ObshellApiError, ObshellClient, wire
from pyobshell.wire.report import UpgradeReport

app = typer.Typer(help="Follow and steer tasks (DAGs): show, watch, retry, roll back, cancel, pass, pause, resume.",
                  no_args_is_help=True)

TaskId = Annotated[str, typer.Argument(metavar="ID", help="Task id as the agent shows it (e.g. 11 for cluster DAG 1).")]
WatchOption = Annotated[bool, typer.Option("--watch", "-w", help="Follow the task until it finishes.")]


def dag_of_node(client: ObshellClient, node_gid: str) -> str:
    """The id of the unfinished task a node belongs to (a passed node lets its task go on)."""
    unfinished = wire.contents(client.request("GET", "/api/v1/task/dag/unfinish", query={"show_details": "true"}))
    for dag in unfinished:
        if any(node["id"] == node_gid for node in dag.get("nodes") or []):
            return str(dag["id"])
    raise CommandFailed(f"node {node_gid} belongs to no unfinished task; see 'pyobshell task show'")


def upgrade_report(client: ObshellClient, out: Output, gid: str, state: str) -> UpgradeReport | None:
    """The post-upgrade report of a cluster DAG that succeeded, None when it has none (not an
    upgrade, not written yet, an agent without reports)."""
    if state != SUCCEED or not gid.startswith("1"):
        return None
    try:
        return client.upgrade_report(gid)
    except ObshellApiError as error:
        if error.status != 404:
            out.warn(f"post-upgrade report: {error.message} [errCode {error.err_code}]")
        return None


@app.command()
def show(gid: TaskId, agent: AgentOption, json_output: JsonOption = False) -> None:
    """Show a task: every step with its state, elapsed time and latest log line; and for an
    upgrade that succeeded, its post-upgrade report."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        dag = client.dag(gid, show_details=True)
        report = upgrade_report(client, out, gid, dag.state)
        if out.json_mode:
            document = dag.model_dump()
            if report is not None:
                document["upgrade_report"] = report.model_dump(mode="json")
            out.emit(document)
            return
        view = build_view(dag)
        print_nodes(out, view)
        if dag.state == FAILED:
            print_failure(out, view, agent)
        if report is not None:
            print_report(out, report, "post-upgrade report")


@app.command("watch")
def watch_task(gid: TaskId, agent: AgentOption, json_output: JsonOption = False) -> None:
    """Follow a task until it finishes (exit 0 if it succeeded, 1 if it failed)."""
    out = Output(json_mode=json_output)
    with reported(out):
        password = root_password()
        with connect(agent, password) as client:
            report_end(out, follow_to_end(out, client, password, gid, agent), agent)


def _operate(gid: str, agent: str, operator: str, json_output: bool, follow: bool, node: bool = False) -> None:
    out = Output(json_mode=json_output)
    with reported(out):
        password = root_password()
        with connect(agent, password) as client:
            if node:
                client.pass_node(gid)
            else:
                client.operate_dag(gid, operator)
            what = f"{'node' if node else 'task'} {gid}"
            if not follow:
                if out.json_mode:
                    out.emit({"operator": operator, "id": gid, "node": node, "accepted": True})
                else:
                    out.say(f"{operator} accepted for {what}. Follow it with: pyobshell task watch "
                            f"{'<task id>' if node else gid} --agent {agent}")
                return
            out.say(f"{operator} accepted for {what}.")
            dag_id = dag_of_node(client, gid) if node else gid
            report_end(out, follow_to_end(out, client, password, dag_id, agent), agent)


@app.command()
def retry(gid: TaskId, agent: AgentOption, follow: WatchOption = False, json_output: JsonOption = False) -> None:
    """Run the failed step of a failed task again, then go on."""
    _operate(gid, agent, "RETRY", json_output, follow)


@app.command()
def rollback(gid: TaskId, agent: AgentOption, follow: WatchOption = False, json_output: JsonOption = False) -> None:
    """Undo a failed task's steps, from the failed one back to the first."""
    _operate(gid, agent, "ROLLBACK", json_output, follow)


@app.command()
def cancel(gid: TaskId, agent: AgentOption, follow: WatchOption = False, json_output: JsonOption = False) -> None:
    """Stop a running task (it ends FAILED with operator CANCEL)."""
    _operate(gid, agent, "CANCEL", json_output, follow)


@app.command("pass")
def pass_(
    gid: TaskId,
    agent: AgentOption,
    node: Annotated[bool, typer.Option("--node", help="ID is a failed node: skip it and let the task go on.")] = False,
    follow: WatchOption = False,
    json_output: JsonOption = False,
) -> None:
    """Mark a failed task passed (its remaining steps never run), or with --node skip one failed step."""
    _operate(gid, agent, "PASS", json_output, follow, node=node)


@app.command()
def pause(gid: TaskId, agent: AgentOption, follow: WatchOption = False, json_output: JsonOption = False) -> None:
    """Pause a running task: the running step finishes, no next step starts until resume."""
    _operate(gid, agent, "PAUSE", json_output, follow)


@app.command()
def resume(gid: TaskId, agent: AgentOption, follow: WatchOption = False, json_output: JsonOption = False) -> None:
    """Let a paused task go on (also the approval a gate waits for)."""
    _operate(gid, agent, "RESUME", json_output, follow)
