"""What ``POST /api/v1/ob/upgrade`` decides before the DAG exists: every pre-check, collected
into one answer, then the DAG's template and context from the plan.

Blocking code (SQL, a subprocess for the python check): the API calls it from a worker thread.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pyobshell.engine import AgentInfo, TaskContext
from pyobshell.engine.template import Template
from pyobshell.errors import ObshellError
from pyobshell.upgrade import prechecks
from pyobshell.upgrade.dag_layout import check_stages, upgrade_stages
from pyobshell.wire.upgrade import UpgradeMode
from pyobshell.upgrade.package_schema import StoredPackage
from pyobshell.upgrade.prechecks import AgentFacts, CheckFailure, Query
from pyobshell.upgrade.tasks.upgrade_context import RouteNode
from pyobshell.upgrade.upgrade_dag import check_template, upgrade_context, upgrade_template
from pyobshell.upgrade.upgrade_plan import ClusterFacts, UpgradeRequest, plan_upgrade
from pyobshell.wire.upgrade import UpgradePlan

PYTHON_CHECK_TIMEOUT_S = 30
_ROLLING_CODE = "OB.Upgrade.UnableToRollingUpgrade"


@dataclass(frozen=True)
class UpgradeInputs:
    """The facts the decision is made on."""

    upgrade: UpgradeRequest
    facts: ClusterFacts
    packages: Sequence[StoredPackage]
    route_file_text: str | None
    agents: Sequence[AgentFacts]
    missing_agents: Sequence[str] = ()


def check_zones_active(query: Query) -> CheckFailure | None:
    """A zone left stopped (e.g. by an earlier failed upgrade) must be started first."""
    stopped = [str(row[0]) for row in query("SELECT ZONE FROM oceanbase.DBA_OB_ZONES WHERE STATUS != 'ACTIVE'")]
    if stopped:
        return CheckFailure("OB.Upgrade.ZoneNotActive",
                            f"Zone {', '.join(stopped)} is not ACTIVE; start it (ALTER SYSTEM START ZONE) first")
    return None


def check_python(python: str) -> CheckFailure | None:
    """The interpreter that will run the packages' scripts imports mysql.connector."""
    try:
        result = subprocess.run([python, "-c", "import mysql.connector"], capture_output=True, text=True,
                                timeout=PYTHON_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return CheckFailure("Environment.WithoutPython", f"cannot run {python}: {error}")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckFailure("Environment.WithoutModule", f"{python} cannot import mysql.connector: {last}")
    return None


def _plan(inputs: UpgradeInputs) -> tuple[UpgradePlan | None, list[CheckFailure]]:
    """The plan; a mode the zones do not allow is already a collected failure, so the packages
    are still planned (as for stop-service) and reported with it."""
    upgrade = inputs.upgrade
    for attempt in (upgrade, replace(upgrade, mode=UpgradeMode.STOPSERVICE)):
        try:
            return plan_upgrade(attempt, inputs.facts, inputs.packages, inputs.route_file_text), []
        except ObshellError as error:
            if error.code != _ROLLING_CODE:
                return None, [CheckFailure(error.code, error.message)]
    return None, []


def precheck(query: Query, inputs: UpgradeInputs, python: str) -> UpgradePlan:
    """Run every check; raise one 400 listing each failure, or return the plan to run."""
    failures = prechecks.cluster_state_failures(query, inputs.upgrade.mode.value)
    failures += [f for f in (check_zones_active(query), check_python(python)) if f is not None]
    failures += prechecks.agent_failures(inputs.agents, inputs.missing_agents)
    plan, plan_failures = _plan(inputs)
    failures += plan_failures
    if plan is not None and plan.missing_packages:
        failures.append(CheckFailure("OB.Package.NotExist",
                                     f"These packages are missing: {', '.join(plan.missing_packages)}"))
    if plan is not None:
        required = sum(p.file_size for p in inputs.packages
                       if any(p.pkg_id == pp.pkg_id for hop in plan.route for pp in hop.packages))
        space = prechecks.check_upgrade_dir(inputs.upgrade.upgrade_dir, required_bytes=3 * required)
        failures += [space] if space is not None else []
    prechecks.raise_if_failed(failures)
    assert plan is not None  # no failure means a plan was made
    return plan


def check_dag(plan: UpgradePlan, inputs: UpgradeInputs) -> tuple[Template, TaskContext]:
    """The upgrade-check DAG: download, verify and unpack every hop's packages on every host, then
    remove them. Needs only a plan whose packages are all stored."""
    if plan.missing_packages:
        prechecks.raise_if_failed([CheckFailure("OB.Package.NotExist",
                                                f"These packages are missing: {', '.join(plan.missing_packages)}")])
    upgrade, facts = inputs.upgrade, inputs.facts
    agents: list[AgentInfo] = list(dict.fromkeys(agent for zone in facts.zones for agent in zone.agents))
    version, release = upgrade.version.number_string, upgrade.release_text
    template = check_template(check_stages(facts.zones), version, release)
    return template, upgrade_context(agents, route_nodes(plan), upgrade.mode, version, release, upgrade.upgrade_dir)


def route_nodes(plan: UpgradePlan) -> list[RouteNode]:
    return [RouteNode(hop.version, hop.release, hop.build_version) for hop in plan.route]


def upgrade_dag(plan: UpgradePlan, inputs: UpgradeInputs) -> tuple[Template, TaskContext]:
    """The DAG to create: the same layout the plan showed."""
    upgrade, facts = inputs.upgrade, inputs.facts
    stages = upgrade_stages(len(plan.route), upgrade.mode, facts.zones, upgrade.freeze_server)
    agents: list[AgentInfo] = list(dict.fromkeys(agent for zone in facts.zones for agent in zone.agents))
    version, release = upgrade.version.number_string, upgrade.release_text
    template = upgrade_template(stages, upgrade.mode, version, release)
    context = upgrade_context(agents, route_nodes(plan), upgrade.mode, version, release, upgrade.upgrade_dir)
    return template, context
