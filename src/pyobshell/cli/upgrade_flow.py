"""The steps of ``pyobshell cluster upgrade``: find the packages, upload what the cluster lacks,
show the plan, ask, start the upgrade DAG, follow it, report.

Like obshell's CLI (reference §9) the packages the route may need are every package above the
cluster's current build and up to the target; unlike it, the plan comes from the agent
(``POST /api/v1/ob/upgrade/plan``) before anything runs, so a missing hop package is named
before the first observer stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from pyobshell.cli.agent_access import connect, root_password
from pyobshell.cli.dag_follow import follow_to_end
from pyobshell.cli.local_packages import LocalPackage, choose_target, not_stored, route_packages, scan_directory
from pyobshell.cli.output import CommandFailed, Output
from pyobshell.cli.package_cmd import upload_files
from pyobshell.cli.task_report import report_end
from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.wire.task import DagDetailDTO
from pyobshell.versions import Version

PLAN_PATH = "/api/v1/ob/upgrade/plan"
UPGRADE_PATH = "/api/v1/ob/upgrade"


@dataclass(frozen=True)
class UpgradeOptions:
    agent: str
    version: Version
    pkg_dir: Path
    mode: str  # ROLLING or STOPSERVICE
    upgrade_dir: str
    release: str | None
    freeze_server: bool
    yes: bool
    gates: dict[str, Any] = field(default_factory=dict)  # pyobshell's operator gates, as body fields


def current_build(client: ObshellClient) -> Version:
    """The lowest build any server runs (``GET /api/v1/ob/info``)."""
    text = str(client.ob_info().get("obcluster_info", {}).get("version", ""))
    try:
        return Version.parse(text)
    except ValueError:
        raise CommandFailed(f"the agent reports no readable cluster version ({text!r})") from None


def ensure_not_under_maintenance(client: ObshellClient, agent: str) -> None:
    """Refuse early, before any upload, when another maintenance task holds the cluster."""
    try:
        dag = client.request("GET", "/api/v1/task/dag/maintain/ob", query={"show_details": "false"})
    except ObshellApiError as error:
        if error.status == 404:
            return  # no maintenance task ever ran
        raise
    if dag and dag.get("state") != "SUCCEED":
        raise CommandFailed(
            f"the cluster is under maintenance by task {dag.get('id')} '{dag.get('name')}' ({dag.get('state')}); "
            f"see: pyobshell task show {dag.get('id')} --agent {agent}")


def upgrade_body(options: UpgradeOptions, target: LocalPackage) -> dict[str, Any]:
    return {"version": target.version, "release": target.release, "mode": options.mode,
            "upgradeDir": options.upgrade_dir, "freeze_server": options.freeze_server, **options.gates}


def show_plan(out: Output, plan: dict[str, Any]) -> None:
    out.say(f"Upgrade plan: {plan['current_version']} -> {plan['target_version']}-{plan['target_release']}, "
            f"{plan['mode']}{', minor freeze before each stop' if plan.get('freeze_server') else ''}, "
            f"{plan['max_stage']} stages", style="bold")
    rows = [(hop["index"] + 1, hop["build_version"], hop["role"], package["file_name"],
             "present" if package["present"] else "MISSING", package.get("signer", ""))
            for hop in plan["route"] for package in hop["packages"]]
    out.table("route and packages", ("hop", "build", "role", "package", "in the cluster", "signer"), rows)
    stages = [(s["index"], s["name"] + ("  (point of no return)" if s.get("point_of_no_return") else ""),
               s.get("zone") or "",
               ", ".join(f"{a['ip']}:{a['port']}" for a in s["agents"]) if s["parallel"] else "maintainer")
              for s in plan["stages"]]
    out.table("stages", ("#", "step", "zone", "runs on"), stages)
    gates = gate_summary(plan)
    if gates:
        out.say(f"Operator gates: {gates}")


def gate_summary(plan: dict[str, Any]) -> str:
    """The gates the plan holds, in words ("" without any)."""
    parts = []
    if plan.get("pause_after_zones"):
        parts.append(f"wait for approval after {', '.join(plan['pause_after_zones'])}")
    if plan.get("soak_s"):
        parts.append(f"soak {plan['soak_s']:g} s after every zone")
    if plan.get("hold_before_finalize"):
        parts.append("wait for approval before the point of no return")
    slo = plan.get("slo") or {}
    bounds = []
    if slo.get("max_p99_ms") is not None:
        bounds.append(f"p99 ≤ {slo['max_p99_ms']:g} ms")
    if slo.get("max_error_rate") is not None:
        bounds.append(f"errors ≤ {100 * slo['max_error_rate']:g} %")
    if bounds:
        parts.append(f"pause when the probe breaches {' and '.join(bounds)} over {slo.get('window_s', 30):g} s")
    return "; ".join(parts)


def confirm(out: Output, plan: dict[str, Any]) -> None:
    question = f"Upgrade the cluster from {plan['current_version']} to {plan['target_version']}-" \
               f"{plan['target_release']} ({plan['mode']})?"
    if not typer.confirm(question, default=False, err=True):
        raise CommandFailed("Operation cancelled")


def upload_missing(out: Output, client: ObshellClient, options: UpgradeOptions,
                   current: Version) -> tuple[LocalPackage, list[str]]:
    """The target package, after every route package the cluster lacks is uploaded."""
    out.say(f"Looking for packages in {options.pkg_dir}")
    scan = scan_directory(options.pkg_dir)
    for problem in scan.refused:
        out.warn(f"skipped {problem}")
    target = choose_target(scan.packages, options.version, options.release, options.pkg_dir)
    if target.build_version <= current:
        raise CommandFailed(f"the cluster already runs {current}; {target.path.name} is not newer")
    needed = route_packages(scan.packages, current, target)
    missing = not_stored(needed, client.list_packages())
    out.say(f"Target {target.version}-{target.release}; {len(needed)} package(s) between {current} and the "
            f"target, {len(missing)} to upload")
    stored = upload_files(out, client, [p.path for p in missing])
    return target, [p.rpm_file_name for p in stored]


def run_upgrade(out: Output, options: UpgradeOptions) -> None:
    password = root_password()
    with connect(options.agent, password) as client:
        ensure_not_under_maintenance(client, options.agent)
        current = current_build(client)
        target, uploaded = upload_missing(out, client, options, current)
        body = upgrade_body(options, target)
        plan = client.request("POST", PLAN_PATH, body)
        show_plan(out, plan)
        if plan["missing_packages"]:
            raise CommandFailed(f"the cluster lacks {', '.join(plan['missing_packages'])}: put them in "
                                f"{options.pkg_dir} and run the command again", {"plan": plan})
        if not options.yes:
            confirm(out, plan)
        dag = client.request("POST", UPGRADE_PATH, body, model=DagDetailDTO)
        out.say(f"Task '{dag.name}' created: id {dag.id}, {dag.max_stage} stages.")
        out.say(f"Follow it from anywhere with: pyobshell task watch {dag.id} --agent {options.agent}")
        final = follow_to_end(out, client, password, dag.id, options.agent)
        report_end(out, final, options.agent, upgrade=True, extra={"plan": plan, "uploaded": uploaded})
