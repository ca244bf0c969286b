"""The upgrade DAG's context, as the tasks read and write it (obshell-upgrade reference §6.3).

Keys keep obshell's spelling (``upgradeRoute``, ``RpmPkgHomepath``...) so contexts stay
readable by the same tools. The route in the context is the list of hops (the running
version already dropped); each entry is a ``RouteStep`` with Go field names as JSON keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyobshell.engine import TaskContext
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID

# DAG params
ALL_AGENTS = "allAgents"
UPGRADE_DIR = "upgradeDir"
TASK_TIME = "taskTime"
VERSION = "version"
BUILD_NUMBER = "buildNumber"
DISTRIBUTION = "distribution"
RELEASE_DISTRIBUTION = "releaseDistribution"
UPGRADE_ROUTE = "upgradeRoute"
ROLLING = "ROLLING"
OB_TYPE = "obType"
SLO = "slo"  # pyobshell: the SLO guard's bounds (SloParam as a dict), only when asked for
# node params
SCRIPT_FILE = "scriptFile"
ROUTE_INDEX = "upgradeRouteIndex"
ZONE = "zone"
SCOPE = "scope"
SOAK_S = "soakSeconds"
# produced at run time
OB_PARAMETERS = "obParameters"
LOCAL_UPGRADE_DIR = "upgradeDir"
LOCAL_TASK_DIR = "upgradeCheckTaskDir"

DEFAULT_OB_TYPE = "oceanbase-ce"
# obshell's REQUIRE_UPGRADE_PKG_NAMES_MAP, keyed by the obType param.
PACKAGE_NAMES: dict[str, tuple[str, ...]] = {
    "oceanbase-ce": ("oceanbase-ce", "oceanbase-ce-libs"),
    "oceanbase": ("oceanbase",),
    "oceanbase-standalone": ("oceanbase-standalone",),
}
OBSERVER_PACKAGES = frozenset({"oceanbase-ce", "oceanbase", "oceanbase-standalone"})
LIBS_PACKAGE = "oceanbase-ce-libs"
PACKAGE_HOME_PARTS = ("home", "admin", "oceanbase")


@dataclass(frozen=True)
class PackageFile:
    """Where one downloaded package of one hop lives on this host (per-agent local data)."""

    name: str  # RpmName, e.g. oceanbase-ce
    build_version: str  # RpmBuildVersion of the package itself, e.g. 4.2.1.1-101000062023110109
    rpm_dir: Path  # <task dir>/<arch>/<hop version>
    sha256: str = ""

    @property
    def rpm_path(self) -> Path:
        return self.rpm_dir / f"{self.name}.rpm"

    @property
    def extract_path(self) -> Path:
        return self.rpm_dir / PACKAGE_HOME_PARTS[0]

    @property
    def home_path(self) -> Path:
        """The unpacked ``home/admin/oceanbase`` tree of the package."""
        return self.rpm_dir.joinpath(*PACKAGE_HOME_PARTS)

    def to_dict(self) -> dict[str, str]:
        return {"RpmName": self.name, "RpmBuildVersion": self.build_version, "RpmDir": str(self.rpm_dir),
                "RpmPkgPath": str(self.rpm_path), "RpmPkgExtractPath": str(self.extract_path),
                "RpmPkgHomepath": str(self.home_path), "RpmSha256": self.sha256}

    @classmethod
    def from_dict(cls, raw: Any) -> "PackageFile":
        if not isinstance(raw, dict) or not raw.get("RpmName") or not raw.get("RpmDir"):
            raise CONTEXT_INVALID(f"package info {raw!r} lacks RpmName or RpmDir")
        return cls(str(raw["RpmName"]), str(raw.get("RpmBuildVersion") or ""), Path(raw["RpmDir"]),
                   str(raw.get("RpmSha256") or ""))


def package_key(name: str, node: RouteStep) -> str:
    """Local data key of a hop's package: ``<BuildVersion>``, ``libs-<BuildVersion>`` for libs."""
    return f"libs-{node.build_version}" if name == LIBS_PACKAGE else node.build_version


def route(context: TaskContext) -> list[RouteStep]:
    raw = context.require_param(UPGRADE_ROUTE)
    if not isinstance(raw, list) or not raw:
        raise CONTEXT_INVALID(f"{UPGRADE_ROUTE} must be a non-empty list of route nodes")
    try:
        return [RouteStep.from_dict(item) for item in raw]
    except ValueError as exc:
        raise CONTEXT_INVALID(str(exc)) from None


def hop(context: TaskContext) -> tuple[int, RouteStep]:
    """The hop named by the node's ``upgradeRouteIndex``."""
    nodes = route(context)
    raw = context.require_param(ROUTE_INDEX)
    try:
        index = int(raw)
    except (TypeError, ValueError):
        raise CONTEXT_INVALID(f"{ROUTE_INDEX} {raw!r} is not a number") from None
    if not 0 <= index < len(nodes):
        raise CONTEXT_INVALID(f"{ROUTE_INDEX} {index} is outside the route of {len(nodes)} hops")
    return index, nodes[index]


def package_names(context: TaskContext) -> tuple[str, ...]:
    ob_type = context.get_param(OB_TYPE) or DEFAULT_OB_TYPE
    names = PACKAGE_NAMES.get(str(ob_type))
    if names is None:
        raise CONTEXT_INVALID(f"{OB_TYPE} {ob_type!r} is not one of {', '.join(PACKAGE_NAMES)}")
    return names


def task_time(context: TaskContext) -> str:
    value = str(context.require_param(TASK_TIME))
    if not value.isdigit():
        raise CONTEXT_INVALID(f"{TASK_TIME} {value!r} is not a millisecond timestamp")
    return value


def zone_param(context: TaskContext) -> str:
    zone = context.get_param(ZONE)
    if zone is not None and not isinstance(zone, str):
        raise CONTEXT_INVALID(f"{ZONE} {zone!r} is not a string")
    return zone or ""
