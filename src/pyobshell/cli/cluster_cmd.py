"""`pyobshell cluster upgrade|status`: upgrade a cluster through one of its agents, and see it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pyobshell.wire.agent import ObStateName, ServerState
from pyobshell.cli.agent_access import AgentOption, JsonOption, connect
from pyobshell.cli.output import EXIT_FAILED, Output, reported
from pyobshell.cli.report_view import print_report
from pyobshell.cli.gate_options import gate_fields
from pyobshell.cli.upgrade_flow import UpgradeOptions, run_upgrade
from pyobshell.client import ObshellApiError, ObshellClient, wire
from pyobshell.versions import Release, Version

app = typer.Typer(help="The OceanBase cluster: upgrade it, show its state.", no_args_is_help=True)


class Mode(str, Enum):
    rolling = "rolling"
    stopservice = "stopservice"


def _version(value: str) -> Version:
    try:
        return Version.parse(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _release(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    try:
        return str(Release.parse(value))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@app.command()
def upgrade(
    agent: AgentOption,
    version: Annotated[str, typer.Option("--version", "-V", help="Target version: 4.2.1.1 or 4.2.1.1-BUILD.")],
    pkg_dir: Annotated[Path, typer.Option("--pkg-dir", "-d", file_okay=False,
                                          help="Directory with the target's RPMs (and those of any hop).")],
    mode: Annotated[Mode, typer.Option("--mode", "-m", case_sensitive=False,
                                       help="rolling: zone by zone, in service; stopservice: all at once.")]
    = Mode.rolling,
    upgrade_dir: Annotated[str, typer.Option("--upgrade-dir", "-t",
                                             help="Absolute work directory on every host (default: OB home).")] = "",
    release: Annotated[Optional[str], typer.Option("--release", callback=_release,
                                                   help="BUILD.DIST of the target (default: from its package).")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    freeze_server: Annotated[bool, typer.Option("--freeze-server", help="Minor freeze before each observer stops.")]
    = False,
    pause_after: Annotated[Optional[list[str]], typer.Option(
        "--pause-after", metavar="ZONE", help="After this zone is started again, wait for 'pyobshell task resume' "
        "(a canary; repeat for several zones).")] = None,
    soak: Annotated[Optional[str], typer.Option(
        "--soak", metavar="DURATION", help="After every zone, wait this long (30s, 10m) with the SQL probe watching.")]
    = None,
    hold_before_finalize: Annotated[bool, typer.Option(
        "--hold-before-finalize", help="Wait for 'pyobshell task resume' before the post script, the point of "
        "no return.")] = False,
    slo_p99: Annotated[Optional[str], typer.Option(
        "--slo-p99", metavar="LATENCY", help="Pause when the probe's p99 exceeds this (500ms).")] = None,
    slo_errors: Annotated[Optional[str], typer.Option(
        "--slo-errors", metavar="RATE", help="Pause when more than this share of probe statements fail (1%).")]
    = None,
    slo_window: Annotated[Optional[str], typer.Option(
        "--slo-window", metavar="DURATION", help="Seconds the SLO figures cover (default 30s, at most 120s).")]
    = None,
    json_output: JsonOption = False,
) -> None:
    """Upload the packages the route needs, show the plan, upgrade, and follow it live.

    The root@sys password is read from OB_ROOT_PASSWORD, or asked for."""
    out = Output(json_mode=json_output)
    try:
        gates = gate_fields(pause_after or [], soak, hold_before_finalize, slo_p99, slo_errors, slo_window)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    options = UpgradeOptions(agent=agent, version=_version(version), pkg_dir=pkg_dir, mode=mode.value.upper(),
                             upgrade_dir=upgrade_dir, release=release, freeze_server=freeze_server, yes=yes,
                             gates=gates)
    with reported(out):
        run_upgrade(out, options)


def _optional_read(out: Output, what: str, read: Any) -> Any:
    """A part of the status; a failure is a warning, the rest is still shown."""
    try:
        return read()
    except ObshellApiError as error:
        if error.status != 404:
            out.warn(f"{what}: {error.message} [errCode {error.err_code}]")
        return None


def cluster_state(client: ObshellClient, out: Output) -> dict[str, Any]:
    agents = client.agents_status()
    info = _optional_read(out, "servers", client.ob_info) or {}
    running = _optional_read(out, "running tasks", lambda: wire.contents(
        client.request("GET", "/api/v1/task/dag/ob/unfinish", query={"show_details": "false"}))) or []
    maintenance = _optional_read(out, "maintenance task", lambda: client.request(
        "GET", "/api/v1/task/dag/maintain/ob", query={"show_details": "false"}))
    return {"agents": {key: status.model_dump(mode="json") for key, status in agents.items()},
            "ob_info": info, "unfinished_tasks": running, "maintenance_task": maintenance}


def _server_state(value: int) -> str:
    try:
        return ServerState(value).name
    except ValueError:
        return str(value)


def print_cluster_state(out: Output, state: dict[str, Any]) -> None:
    info = state["ob_info"]
    cluster = info.get("obcluster_info", {})
    maintainer = info.get("maintainer") or {}
    maintainer_key = f"{maintainer.get('ip')}:{maintainer.get('port')}" if maintainer else ""
    if cluster:
        name = f"{cluster['name']} (id {cluster.get('id')})" if cluster.get("name") else "cluster"
        out.say(f"{name}: lowest build {cluster.get('version')}", style="bold")
    zones = {z["zone"]: z["status"] for z in info.get("zones", [])}
    servers = [(zone, zones.get(zone, ""), f"{s['svr_ip']}:{s['svr_port']}", s["sql_port"], s["status"],
                s["build_version"].split("-")[0], s["with_rootserver"], s["agent_port"] or "")
               for zone, members in cluster.get("topology", {}).items() for s in members]
    if servers:
        out.table("servers", ("zone", "zone status", "server", "sql port", "status", "build", "rootserver",
                              "agent port"), servers)
    agents = [(key, a["agent"]["identity"], _server_state(a["state"]), ObStateName.of(a["obState"]),
               a.get("pyobshellVersion") or "", a["version"],
               "yes" if a["underMaintenance"] else "", "yes" if key == maintainer_key else "")
              for key, a in sorted(state["agents"].items())]
    out.table("agents", ("agent", "identity", "state", "obState", "pyobshell", "obshell API", "maintenance",
                         "maintainer"), agents)
    tasks = [(t["id"], t["name"], t["state"], t["operator"], f"{t['stage']}/{t['max_stage']}")
             for t in state["unfinished_tasks"]]
    if tasks:
        out.table("unfinished tasks", ("id", "name", "state", "operator", "stage"), tasks)
    else:
        out.say("no unfinished cluster task")
    last = state["maintenance_task"]
    if last:
        out.say(f"last maintenance task: {last['id']} '{last['name']}' {last['state']}")


@app.command()
def status(agent: AgentOption, json_output: JsonOption = False) -> None:
    """Servers, zones, builds, agents, maintainer and unfinished tasks."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        state = cluster_state(client, out)
        if out.json_mode:
            out.emit(state)
        else:
            print_cluster_state(out, state)


@app.command()
def verify(agent: AgentOption, json_output: JsonOption = False) -> None:
    """Run the post-upgrade checks now: one build on every server, every server in service, no
    zone stopped, min_observer_version, every tenant's compatible and data version, upgrade mode
    off, the parameters the last upgrade backed up. Exit 1 if any check fails."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        report = client.verify()
        if out.json_mode:
            out.emit(report.model_dump(mode="json"))
        else:
            print_report(out, report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
