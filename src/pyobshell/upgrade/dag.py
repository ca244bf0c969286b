"""The OB upgrade DAG: the stages of :mod:`stages` turned into an engine template, and the
DAG context the tasks read (obshell-upgrade reference §6.2, §6.3)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pyobshell.engine import AgentInfo, Node, TaskContext
from pyobshell.engine.model import EXECUTE_AGENTS_KEY, Maintainer
from pyobshell.engine.template import Template, TemplateBuilder
from pyobshell.upgrade.stages import (
    FreezeScope,
    Stage,
    StageKind,
    check_dag_name,
    check_stages,
    dag_name,
    upgrade_stages,
)
from pyobshell.upgrade.tasks import (
    BackupParametersTask,
    CheckPackagesTask,
    CheckPythonEnvTask,
    CreateUpgradeDirTask,
    DownloadPackagesTask,
    RemoveUpgradeCheckDirTask,
    RestoreParametersTask,
    UnpackPackagesTask,
    approval_gate_node,
    minor_freeze_node,
    reinstall_node,
    script_node,
    soak_node,
    start_zone_node,
    stop_zone_node,
)
from pyobshell.upgrade.gates import UpgradeGates, finalize_gate_reason, zone_gate_reason
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.prechecks import CheckFailure, raise_if_failed
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.plan import UpgradeInputs, UpgradeRequest
from pyobshell.wire.upgrade import UpgradeMode, UpgradePlan

_PER_HOST = {
    StageKind.CHECK_ENVIRONMENT: CheckPythonEnvTask, StageKind.CREATE_DIR: CreateUpgradeDirTask,
    StageKind.DOWNLOAD_PACKAGES: DownloadPackagesTask, StageKind.CHECK_PACKAGES: CheckPackagesTask,
    StageKind.UNPACK_PACKAGES: UnpackPackagesTask, StageKind.REMOVE_TASK_DIR: RemoveUpgradeCheckDirTask,
}


def stage_node(stage: Stage) -> Node:
    """The engine node that runs ``stage``."""
    kind, hop, zone = stage.kind, stage.hop if stage.hop is not None else 0, stage.zone or ""
    if kind in _PER_HOST:
        params = {EXECUTE_AGENTS_KEY: [agent.to_dict() for agent in stage.agents]}
        return Node(_PER_HOST[kind](), parallel=True, context=TaskContext(params=params))
    if kind is StageKind.REINSTALL_OBSERVER:
        return reinstall_node(hop, list(stage.agents), zone)
    if kind is StageKind.STOP_ZONE:
        return stop_zone_node(zone)
    if kind is StageKind.START_ZONE:
        return start_zone_node(zone)
    if kind is StageKind.ZONE_GATE:
        return approval_gate_node(stage.name, zone_gate_reason(zone), zone)
    if kind is StageKind.FINALIZE_GATE:
        return approval_gate_node(stage.name, finalize_gate_reason())
    if kind is StageKind.SOAK:
        return soak_node(stage.name, zone, stage.soak_s)
    if kind is StageKind.MINOR_FREEZE:
        return minor_freeze_node([zone] if stage.freeze_scope is FreezeScope.ZONE else None)
    if stage.script is not None:
        return script_node(stage.script, hop, zone)
    task = BackupParametersTask() if kind is StageKind.BACKUP_PARAMETERS else RestoreParametersTask()
    return Node(task, context=TaskContext(params={ctx.ROUTE_INDEX: hop}))


def upgrade_template(stages: Sequence[Stage], mode: UpgradeMode, version: str, release: str,
                     extra: dict[int, Node] | None = None) -> Template:
    """The global-maintenance DAG; ``extra`` (tests) inserts nodes before the stage of that index."""
    builder = TemplateBuilder(dag_name(mode, version, release)).set_maintenance(Maintainer.global_())
    for index, stage in enumerate(stages):
        if extra and index in extra:
            builder.add_node(extra[index])
        builder.add_node(stage_node(stage))
    return builder.build()


def check_template(stages: Sequence[Stage], version: str, release: str) -> Template:
    """The upgrade-check DAG: not a maintenance DAG, it changes nothing in the cluster."""
    builder = TemplateBuilder(check_dag_name(version, release))
    for stage in stages:
        builder.add_node(stage_node(stage))
    return builder.build()


def upgrade_context(agents: Sequence[AgentInfo], route: Sequence[RouteStep], mode: UpgradeMode, version: str,
                    release: str, upgrade_dir: str = "", ob_type: str = ctx.DEFAULT_OB_TYPE,
                    gates: UpgradeGates | None = None) -> TaskContext:
    """DAG params: every agent, the hops (the running version already dropped), the target, and
    the SLO guard's bounds when asked for."""
    build, _, distribution = release.partition(".")
    everyone = [agent.to_dict() for agent in agents]
    context = TaskContext(params={
        ctx.ALL_AGENTS: everyone, EXECUTE_AGENTS_KEY: everyone, ctx.UPGRADE_DIR: upgrade_dir.strip(),
        ctx.TASK_TIME: str(int(time.time() * 1000)), ctx.VERSION: version, ctx.BUILD_NUMBER: build,
        ctx.DISTRIBUTION: distribution, ctx.RELEASE_DISTRIBUTION: release,
        ctx.UPGRADE_ROUTE: [node.to_dict() for node in route], ctx.ROLLING: mode is UpgradeMode.ROLLING,
        ctx.OB_TYPE: ob_type,
    })
    if gates is not None and gates.slo is not None:
        context.set_param(ctx.SLO, gates.slo.model_dump())
    return context


def check_dag(plan: UpgradePlan, inputs: UpgradeInputs) -> tuple[Template, TaskContext]:
    """The upgrade-check DAG: download, verify and unpack every hop's packages on every host, then
    remove them. Needs only a plan whose packages are all stored."""
    if plan.missing_packages:
        raise_if_failed([CheckFailure("OB.Package.NotExist",
                                                f"These packages are missing: {', '.join(plan.missing_packages)}")])
    upgrade, facts = inputs.upgrade, inputs.facts
    agents: list[AgentInfo] = list(dict.fromkeys(agent for zone in facts.zones for agent in zone.agents))
    version, release = upgrade.version.number_string, upgrade.release_text
    template = check_template(check_stages(facts.zones), version, release)
    return template, upgrade_context(agents, route_nodes(plan), upgrade.mode, version, release, upgrade.upgrade_dir)


def route_nodes(plan: UpgradePlan) -> list[RouteStep]:
    """The plan's hops as the tasks read them from the DAG's context."""
    return [RouteStep.from_dict({"Version": hop.version, "Release": hop.release}) for hop in plan.route]


def upgrade_dag_name(upgrade: UpgradeRequest) -> str:
    """The name the upgrade DAG of ``upgrade`` will have (its reservation shows it meanwhile)."""
    return dag_name(upgrade.mode, upgrade.version.number_string, upgrade.release_text)


def upgrade_dag(plan: UpgradePlan, inputs: UpgradeInputs) -> tuple[Template, TaskContext]:
    """The DAG to create: the same layout the plan showed."""
    upgrade, facts = inputs.upgrade, inputs.facts
    stages = upgrade_stages(len(plan.route), upgrade.mode, facts.zones, upgrade.freeze_server, upgrade.gates)
    agents: list[AgentInfo] = list(dict.fromkeys(agent for zone in facts.zones for agent in zone.agents))
    version, release = upgrade.version.number_string, upgrade.release_text
    template = upgrade_template(stages, upgrade.mode, version, release)
    context = upgrade_context(agents, route_nodes(plan), upgrade.mode, version, release, upgrade.upgrade_dir,
                              gates=upgrade.gates)
    return template, context
