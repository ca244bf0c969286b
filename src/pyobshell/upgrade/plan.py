"""The upgrade plan: route, packages per hop and DAG stages, computed before anything runs.

:func:`plan_upgrade` is a pure function of the request, the cluster facts, the stored
packages and the target package's route file; :func:`read_cluster_facts` reads the facts
from the observer (blocking: call it from a worker thread).

The checks follow obshell's ``POST /api/v1/ob/upgrade`` pre-checks where they apply to a
plan (upgrade dir, target ≥ 4.2.0.0 and above the current build, route, mode versus zone
count). Missing packages are *reported* per hop and architecture instead of refused, so a
client sees everything it still has to upload; only the target's main package is required,
since its ``oceanbase_upgrade_dep.yml`` is where the route comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.ob import parameters, servers, zones
from pyobshell.ob.sql import Sql
from pyobshell.upgrade.gates import UpgradeGates, check_gates
from pyobshell.upgrade.stages import Stage, ZoneAgents, dag_name, upgrade_stages
from pyobshell.upgrade.packages.schema import StoredPackage
from pyobshell.upgrade.route_file import RouteFile, parse_route_file
from pyobshell.upgrade.route import (
    MIN_SUPPORTED_TARGET,
    UPGRADE_PACKAGE_NAMES,
    RouteStep,
    UpgradeRoute,
    plan_route,
)
from pyobshell.versions import BuildVersion, Release, Version
from pyobshell.wire.upgrade import (
    ObUpgradeParam,
    PlannedHop,
    PlannedPackage,
    PlannedStage,
    UpgradeCheckParam,
    UpgradeMode,
    UpgradePlan,
    upgrade_dir_problem,
)

log = logging.getLogger(__name__)

_B, _X = ErrorKind.BAD_REQUEST, ErrorKind.UNEXPECTED
INVALID_PATH = ErrorCode("Common.InvalidPath", _B, "{}")
UNABLE_TO_ROLLING_UPGRADE = ErrorCode("OB.Upgrade.UnableToRollingUpgrade", _B, "{}")
TARGET_PACKAGE_NOT_EXIST = ErrorCode("OB.Package.NotExist", _B, "These packages are missing: '{}'")
CLUSTER_FACTS_UNAVAILABLE = ErrorCode("OB.Upgrade.ClusterFacts.Unavailable", _X,
                                      "Cannot read the cluster for the upgrade: {}")

SHARED_STORAGE = "SHARED_STORAGE"


@dataclass(frozen=True)
class UpgradeRequest:
    """The upgrade body, validated: ``version`` has no build, ``release`` is BUILD.DIST."""

    version: Version
    release: Release
    mode: UpgradeMode
    upgrade_dir: str = ""
    freeze_server: bool = False
    gates: UpgradeGates = UpgradeGates()

    @classmethod
    def of(cls, body: UpgradeCheckParam) -> "UpgradeRequest":
        """The validated body; the check (which has no mode) is planned as a stop-service
        upgrade: it downloads and unpacks every hop's packages on every host whatever the mode
        will be, and any number of zones allows stop-service."""
        if isinstance(body, ObUpgradeParam):
            return cls(version=Version.parse(body.version), release=Release.parse(body.release),
                       mode=UpgradeMode(body.mode), upgrade_dir=body.upgradeDir, freeze_server=body.freeze_server,
                       gates=UpgradeGates.of(body))
        return cls(version=Version.parse(body.version), release=Release.parse(body.release),
                   mode=UpgradeMode.STOPSERVICE, upgrade_dir=body.upgradeDir)

    @property
    def target(self) -> Version:
        return self.version.with_build(self.release.build)

    @property
    def release_text(self) -> str:
        return str(self.release)


@dataclass(frozen=True)
class ClusterFacts:
    """What the plan needs to know about the cluster."""

    current: Version  # version and build the observers run
    zones: tuple[ZoneAgents, ...]  # DBA_OB_ZONES order, the rolling order
    arches: tuple[str, ...]  # every agent architecture
    edition: str = "community"
    shared_storage: bool = False


@dataclass(frozen=True)
class AgentFacts:
    address: str  # ip:port
    serving: bool  # agent state RUNNING
    ob_state: int
    sql_address: str  # ip:sql_port


@dataclass(frozen=True)
class UpgradeInputs:
    """The facts the decision is made on."""

    upgrade: UpgradeRequest
    facts: ClusterFacts
    packages: Sequence[StoredPackage]
    route_file_text: str | None
    agents: Sequence[AgentFacts]
    missing_agents: Sequence[str] = ()


# -- pure planning -------------------------------------------------------------------------------


def check_upgrade_dir(upgrade_dir: str) -> str:
    """The trimmed dir (empty: the default), or 400 ``Common.InvalidPath``."""
    problem = upgrade_dir_problem(upgrade_dir)
    if problem is not None:
        raise INVALID_PATH(problem)
    return upgrade_dir.strip()


def route_package_name(edition: str) -> str:
    """The package whose ``oceanbase_upgrade_dep.yml`` holds the route (oceanbase-ce...)."""
    return _package_names(edition)[0]


def find_route_package(request: UpgradeRequest, facts: ClusterFacts,
                       packages: Sequence[StoredPackage]) -> StoredPackage | None:
    """The stored target package carrying the route file (the agents' architectures first)."""
    name = route_package_name(facts.edition)
    matches = [p for p in packages if p.name == name and p.version == request.version.number_string
               and p.release_distribution == request.release_text]
    order = {arch: i for i, arch in enumerate(facts.arches)}
    return min(matches, key=lambda p: (order.get(p.architecture, len(order)), -p.pkg_id), default=None)


def plan_upgrade(request: UpgradeRequest, facts: ClusterFacts, packages: Sequence[StoredPackage],
                 route_file_text: str | None) -> UpgradePlan:
    """The plan, or an :class:`ObshellError` (400 for anything the request or the stored
    packages make impossible: bad dir, no route, downgrade, deprecated target, mode)."""
    upgrade_dir = check_upgrade_dir(request.upgrade_dir)
    route = _route(request, facts, route_file_text)
    _check_mode(request.mode, facts)
    gates = request.gates
    check_gates(gates, request.mode, [zone.zone for zone in facts.zones])
    hops = [_planned_hop(i, step, facts, packages, request.release.distribution)
            for i, step in enumerate(route.hops)]
    missing = [p.file_name for hop in hops for p in hop.packages if not p.present]
    stages = upgrade_stages(len(hops), request.mode, facts.zones, request.freeze_server, gates)
    return UpgradePlan(
        name=dag_name(request.mode, request.version.number_string, request.release_text),
        current_version=str(facts.current), target_version=request.version.number_string,
        target_release=request.release_text, mode=request.mode, freeze_server=request.freeze_server,
        upgrade_dir=upgrade_dir, route=hops, missing_packages=missing, ready=not missing,
        max_stage=len(stages), stages=[_planned_stage(i, s) for i, s in enumerate(stages, start=1)],
        pause_after_zones=list(gates.pause_after_zones), soak_s=gates.soak_s,
        hold_before_finalize=gates.hold_before_finalize, slo=gates.slo,
    )


def _route(request: UpgradeRequest, facts: ClusterFacts, route_file_text: str | None) -> UpgradeRoute:
    target, current = request.target, facts.current
    is_forward = target > current and target.without_build() >= MIN_SUPPORTED_TARGET
    if route_file_text is None and is_forward and not target.same_numbers(current):
        # Direction errors come first (plan_route below); this one only for a real upgrade.
        name = route_package_name(facts.edition)
        arch = facts.arches[0] if facts.arches else "x86_64"
        raise TARGET_PACKAGE_NOT_EXIST(
            f"[{name}-{request.version.number_string}-{request.release_text}.{arch}.rpm]; "
            f"upload it first: the upgrade route comes from its oceanbase_upgrade_dep.yml")
    route_file = parse_route_file(route_file_text) if route_file_text else RouteFile(())
    return plan_route(route_file, current, target)


def _check_mode(mode: UpgradeMode, facts: ClusterFacts) -> None:
    if mode is not UpgradeMode.ROLLING:
        return
    needed = 2 if facts.shared_storage else 3
    if len(facts.zones) < needed:
        raise UNABLE_TO_ROLLING_UPGRADE(
            f"Rolling upgrade requires at least 3 zones (or 2 zones for shared storage mode); "
            f"this cluster has {len(facts.zones)}")


def _planned_hop(index: int, step: RouteStep, facts: ClusterFacts, packages: Sequence[StoredPackage],
                 distribution: str) -> PlannedHop:
    planned = [
        _planned_package(name, step, arch, distribution, packages)
        for name in _package_names(facts.edition) for arch in facts.arches
    ]
    return PlannedHop(index=index, version=step.number, release=step.release,
                      build_version=step.build_version, role=step.role.value, packages=planned)


def _planned_package(name: str, step: RouteStep, arch: str, distribution: str,
                     packages: Sequence[StoredPackage]) -> PlannedPackage:
    version, build = step.version.number_string, step.version.build
    candidates = [p for p in packages if p.name == name and p.version == version
                  and p.architecture == arch and p.distribution == distribution]
    if build is not None:
        candidates = [p for p in candidates if p.release == build]
    else:  # any build the route file does not mark deprecated, the newest first
        candidates = [p for p in candidates if p.release not in step.deprecated_builds]
    chosen = max(candidates, key=lambda p: (p.build_number, p.pkg_id), default=None)
    file_name = (chosen.rpm_file_name if chosen is not None
                 else f"{name}-{version}-{build or '${release}'}.{distribution}.{arch}.rpm")
    if chosen is None:
        return PlannedPackage(name=name, architecture=arch, file_name=file_name, present=False)
    return PlannedPackage(name=name, architecture=arch, file_name=file_name, present=True, pkg_id=chosen.pkg_id,
                          sha256=chosen.sha256, signer=chosen.signature.summary, signature=chosen.signature_info())


def _planned_stage(index: int, stage: Stage) -> PlannedStage:
    return PlannedStage(index=index, name=stage.name, parallel=stage.parallel,
                        agents=list(stage.agents),
                        hop=stage.hop, zone=stage.zone, point_of_no_return=stage.point_of_no_return)


def _package_names(edition: str) -> tuple[str, ...]:
    names = UPGRADE_PACKAGE_NAMES.get(edition)
    if names is None:
        raise CLUSTER_FACTS_UNAVAILABLE(f"unknown OceanBase edition {edition!r}")
    return names


# -- reading the facts (blocking) ----------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredAgent:
    """An agent as the cluster's registry (``all_agent``) knows it."""

    agent: AgentInfo
    zone: str
    architecture: str = ""


def read_cluster_facts(sql: Sql, *, sql_host: str, sql_port: int, agent_port: int, arch: str,
                       registered: Sequence[RegisteredAgent] = ()) -> ClusterFacts:
    """Version, zones (with their agents) and architectures, as root@sys through ``sql``.

    Agents are the registered ones when there are any; otherwise one agent per observer is
    assumed, on this agent's port, with this agent's architecture."""
    try:
        build = servers.build_by_sql_address(sql, sql_host, sql_port)
        if build is None:
            raise CLUSTER_FACTS_UNAVAILABLE(f"observer {sql_host}:{sql_port} is not in DBA_OB_SERVERS")
        current = _current_version(build)
        zone_names = zones.zone_names(sql)
        agents = _agents_by_zone(sql, registered, agent_port, arch)
        shared = parameters.startup_mode(sql) == SHARED_STORAGE
    except ObshellError as exc:
        if exc.error_code is CLUSTER_FACTS_UNAVAILABLE:
            raise
        raise CLUSTER_FACTS_UNAVAILABLE(exc.message) from exc
    by_zone = tuple(ZoneAgents(z, tuple(sorted(agents.get(z, {})))) for z in zone_names)
    arches = tuple(sorted({a for per_zone in agents.values() for a in per_zone.values()})) or (arch,)
    return ClusterFacts(current=current, zones=by_zone, arches=arches, shared_storage=shared)


def _current_version(text: str) -> Version:
    try:
        return BuildVersion.parse(text).version
    except ValueError as exc:
        raise CLUSTER_FACTS_UNAVAILABLE(f"unreadable BUILD_VERSION {text!r}") from exc


def _agents_by_zone(sql: Sql, registered: Sequence[RegisteredAgent], agent_port: int,
                    arch: str) -> dict[str, dict[AgentInfo, str]]:
    """zone -> {agent: architecture}."""
    by_zone: dict[str, dict[AgentInfo, str]] = {}
    for record in registered:
        by_zone.setdefault(record.zone, {})[record.agent] = record.architecture or arch
    if by_zone:
        return by_zone
    for ip, zone in servers.server_zones(sql):
        by_zone.setdefault(zone, {})[AgentInfo(ip, agent_port)] = arch
    return by_zone
