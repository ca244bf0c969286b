"""The stages of the OB upgrade DAG, in order: names, parallelism, executing agents.

This is the single source of the upgrade DAG's shape. The plan endpoint shows it before
anything runs, and the DAG builder turns the same list into the engine template, so what a
client is shown is exactly what will run.

Shape (reference §6.2; pyobshell has no obshell self-upgrade nodes, see DESIGN):

* header, five parallel nodes on every agent: python environment, create dir, download,
  check and unpack the packages;
* per route hop, ROLLING: backup parameters, checker, pre script, then zone by zone (in
  ``DBA_OB_ZONES`` order) health check, stop zone, [minor freeze], reinstall and restart
  that zone's observers, zone health check, start zone; then post script, restore
  parameters;
* per route hop, STOPSERVICE: backup parameters, checker, [minor freeze of the cluster], pre
  script, health check, reinstall and restart every observer at once, health check, post
  script, restore parameters;
* tail: remove the task directory on every agent.

Rolling: ``5 + R·(5 + Z·(5+F)) + 1`` stages; stop-service: ``5 + R·(8+F) + 1``.

Operator gates (:mod:`gates`) add nodes only when asked for: after each rolling zone's start a
soak node (``soak_s``) and a gate "Wait for approval after <zone>" (``pause_after_zones``), in
every hop; before the first hop's post script (the point of no return) the gate "Wait for
approval to finalize" (``hold_before_finalize``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.upgrade.gates import FINALIZE_GATE_NAME, SOAK_NAME, ZONE_GATE_NAME, UpgradeGates
from pyobshell.wire.upgrade import UpgradeMode

LAYOUT_INVALID = ErrorCode("OB.Upgrade.Layout.Invalid", ErrorKind.UNEXPECTED, "Cannot lay out the upgrade: {}")

DAG_ROLLING_UPGRADE = "OB rolling upgrade"
DAG_STOP_SERVICE_UPGRADE = "OB stop service upgrade"

SCRIPT_CHECKER = "etc/upgrade_checker.py"
SCRIPT_PRE = "etc/upgrade_pre.py"
SCRIPT_HEALTH_CHECKER = "etc/upgrade_health_checker.py"
SCRIPT_POST = "etc/upgrade_post.py"


class StageKind(Enum):
    """What a stage does; the DAG builder maps each kind to its task type."""

    CHECK_ENVIRONMENT = "Check the python environment"
    CREATE_DIR = "Create upgrade dir"
    DOWNLOAD_PACKAGES = "Download all required packages"
    CHECK_PACKAGES = "Check all required packages"
    UNPACK_PACKAGES = "Unpack all required packages"
    BACKUP_PARAMETERS = "Backup parameters"
    CHECKER_SCRIPT = "Execute upgrade checker script"
    PRE_SCRIPT = "Execute upgrade pre script"
    HEALTH_CHECKER_SCRIPT = "Execute upgrade health checker script"
    STOP_ZONE = "Stop"  # "Stop <zone>"
    MINOR_FREEZE = "Minor freeze before stop server"
    REINSTALL_OBSERVER = "Reinstall and restart observer"
    ZONE_HEALTH_CHECKER_SCRIPT = "Execute upgrade zone health checker script"
    START_ZONE = "Start"  # "Start <zone>"
    POST_SCRIPT = "Execute upgrade post script"
    RESTORE_PARAMETERS = "Restore parameters"
    REMOVE_TASK_DIR = "Remove upgrade check task dir"
    SOAK = "Soak after"  # "Soak after <zone>"
    ZONE_GATE = "Wait for approval after"  # "Wait for approval after <zone>"
    FINALIZE_GATE = FINALIZE_GATE_NAME


class FreezeScope(str, Enum):
    GLOBAL = "GLOBAL"
    ZONE = "ZONE"


@dataclass(frozen=True)
class ZoneAgents:
    """A zone and the agents beside its observers."""

    zone: str
    agents: tuple[AgentInfo, ...]


@dataclass(frozen=True)
class Stage:
    """One node of the upgrade DAG.

    ``agents`` are the executing agents of a parallel stage; a serial stage has none (it runs
    on the maintainer). ``hop`` is the route index (None in header and tail), ``zone`` the
    zone a stage acts on, ``script`` the package script it runs, ``freeze_scope`` the scope of
    a minor freeze."""

    kind: StageKind
    name: str
    parallel: bool
    agents: tuple[AgentInfo, ...] = ()
    hop: int | None = None
    zone: str | None = None
    script: str | None = None
    freeze_scope: FreezeScope | None = None
    soak_s: float = 0.0
    point_of_no_return: bool = False


def dag_name(mode: UpgradeMode, version: str, release: str) -> str:
    """``OB rolling upgrade 4.2.1.1-101000062023110109.el7`` (obshell's DAG names)."""
    base = DAG_ROLLING_UPGRADE if mode is UpgradeMode.ROLLING else DAG_STOP_SERVICE_UPGRADE
    return f"{base} {version}-{release}"


def upgrade_stages(hops: int, mode: UpgradeMode, zones: Sequence[ZoneAgents],
                   freeze_server: bool = False, gates: UpgradeGates | None = None) -> list[Stage]:
    """Every stage of the upgrade DAG for ``hops`` route hops over ``zones`` (rolling order)."""
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 1:
        raise LAYOUT_INVALID(f"an upgrade needs at least one route hop, got {hops!r}")
    if not zones:
        raise LAYOUT_INVALID("the cluster has no zones")
    empty = [z.zone for z in zones if not z.agents]
    if empty:
        raise LAYOUT_INVALID(f"zone(s) {', '.join(empty)} have no agents to reinstall their observers")
    everyone = _all_agents(zones)
    hop_stages = _rolling_hop if mode is UpgradeMode.ROLLING else _stop_service_hop
    stages = [_parallel(kind, everyone) for kind in (
        StageKind.CHECK_ENVIRONMENT, StageKind.CREATE_DIR, StageKind.DOWNLOAD_PACKAGES,
        StageKind.CHECK_PACKAGES, StageKind.UNPACK_PACKAGES)]
    gates = gates or UpgradeGates()
    for hop in range(hops):
        stages += hop_stages(hop, zones, everyone, freeze_server, gates)
    stages.append(_parallel(StageKind.REMOVE_TASK_DIR, everyone))
    return stages


def check_stages(zones: Sequence[ZoneAgents]) -> list[Stage]:
    """The upgrade-check DAG: the header's five package stages, then the cleanup (obshell §6.2)."""
    if not zones:
        raise LAYOUT_INVALID("the cluster has no zones")
    everyone = _all_agents(zones)
    kinds = (StageKind.CHECK_ENVIRONMENT, StageKind.CREATE_DIR, StageKind.DOWNLOAD_PACKAGES,
             StageKind.CHECK_PACKAGES, StageKind.UNPACK_PACKAGES, StageKind.REMOVE_TASK_DIR)
    return [_parallel(kind, everyone) for kind in kinds]


def check_dag_name(version: str, release: str) -> str:
    return f"Upgrade check OB {version}-{release}"


def _rolling_hop(hop: int, zones: Sequence[ZoneAgents], _everyone: tuple[AgentInfo, ...],
                 freeze: bool, gates: UpgradeGates) -> list[Stage]:
    stages = _hop_opening(hop)
    for zone in zones:
        name = zone.zone
        stages += [
            _serial(StageKind.HEALTH_CHECKER_SCRIPT, hop, script=SCRIPT_HEALTH_CHECKER),
            Stage(StageKind.STOP_ZONE, f"Stop {name}", False, hop=hop, zone=name),
        ]
        if freeze:
            stages.append(_freeze(hop, FreezeScope.ZONE, name))
        stages += [
            Stage(StageKind.REINSTALL_OBSERVER, StageKind.REINSTALL_OBSERVER.value, True, zone.agents, hop, name),
            _serial(StageKind.ZONE_HEALTH_CHECKER_SCRIPT, hop, zone=name, script=SCRIPT_HEALTH_CHECKER),
            Stage(StageKind.START_ZONE, f"Start {name}", False, hop=hop, zone=name),
        ]
        if gates.soak_s > 0:
            stages.append(Stage(StageKind.SOAK, SOAK_NAME.format(zone=name), False, hop=hop, zone=name,
                                soak_s=gates.soak_s))
        if name in gates.pause_after_zones:
            stages.append(Stage(StageKind.ZONE_GATE, ZONE_GATE_NAME.format(zone=name), False, hop=hop, zone=name))
    return stages + _hop_closing(hop, gates)


def _stop_service_hop(hop: int, _zones: Sequence[ZoneAgents], everyone: tuple[AgentInfo, ...],
                      freeze: bool, gates: UpgradeGates) -> list[Stage]:
    stages = _hop_opening(hop)
    pre = stages.pop()  # the freeze, when asked for, comes between the checker and the pre script
    if freeze:
        stages.append(_freeze(hop, FreezeScope.GLOBAL, None))
    stages += [
        pre,
        _serial(StageKind.HEALTH_CHECKER_SCRIPT, hop, script=SCRIPT_HEALTH_CHECKER),
        Stage(StageKind.REINSTALL_OBSERVER, StageKind.REINSTALL_OBSERVER.value, True, everyone, hop),
        _serial(StageKind.HEALTH_CHECKER_SCRIPT, hop, script=SCRIPT_HEALTH_CHECKER),
    ]
    return stages + _hop_closing(hop, gates)


def _hop_opening(hop: int) -> list[Stage]:
    return [
        _serial(StageKind.BACKUP_PARAMETERS, hop),
        _serial(StageKind.CHECKER_SCRIPT, hop, script=SCRIPT_CHECKER),
        _serial(StageKind.PRE_SCRIPT, hop, script=SCRIPT_PRE),
    ]


def _hop_closing(hop: int, gates: UpgradeGates) -> list[Stage]:
    """Post script and restore. The first hop's post script is the point of no return (END
    ROLLING UPGRADE raises ``min_observer_version``, the upgrade jobs raise data versions)."""
    post = Stage(StageKind.POST_SCRIPT, StageKind.POST_SCRIPT.value, False, hop=hop, script=SCRIPT_POST,
                 point_of_no_return=hop == 0)
    hold = [_serial(StageKind.FINALIZE_GATE, hop)] if gates.hold_before_finalize and hop == 0 else []
    return hold + [post, _serial(StageKind.RESTORE_PARAMETERS, hop)]


def _serial(kind: StageKind, hop: int, *, zone: str | None = None, script: str | None = None) -> Stage:
    return Stage(kind, kind.value, False, hop=hop, zone=zone, script=script)


def _parallel(kind: StageKind, agents: tuple[AgentInfo, ...]) -> Stage:
    return Stage(kind, kind.value, True, agents)


def _freeze(hop: int, scope: FreezeScope, zone: str | None) -> Stage:
    return Stage(StageKind.MINOR_FREEZE, StageKind.MINOR_FREEZE.value, False, hop=hop, zone=zone, freeze_scope=scope)


def _all_agents(zones: Sequence[ZoneAgents]) -> tuple[AgentInfo, ...]:
    """Every agent once, zone by zone (a host may appear in one zone only, but be safe)."""
    seen: dict[str, AgentInfo] = {}
    for zone in zones:
        for agent in zone.agents:
            seen.setdefault(str(agent), agent)
    return tuple(seen.values())
