"""Planning an OceanBase upgrade route from an ``oceanbase_upgrade_dep.yml``.

The rules are OceanBase's own (OBD's ``upgrade_route.py``, obshell's ``upgrade_route.go``):

* Same four-part version, newer build (a hotfix): the route is ``[current, target]``.
* Otherwise the file is a graph (one node per ``version`` string, edges from
  ``can_be_upgraded_to``) searched breadth-first for a shortest path. Nodes with a build
  suffix (``A.B.C.D-BUILD``) are tried first among neighbours and only stand for that build.
* A deprecated version is never the target.
* The route keeps the start, every transit version whose observer binary must really be
  installed (``require_from_binary``) and the target. A conditional requirement
  (``when_come_from``) is judged against the binary the cluster runs when it reaches that
  node: the start, or the last barrier before it — as OBD and obshell both do, so a barrier
  that is mandatory after an earlier barrier is never skipped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Sequence

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.upgrade.route_file import BinaryRequirement, RouteFile
from pyobshell.versions import Version

MIN_SUPPORTED_TARGET = Version((4, 2, 0, 0))

# Packages each hop needs, per edition (obshell's REQUIRE_UPGRADE_PKG_NAMES_MAP).
UPGRADE_PACKAGE_NAMES: dict[str, tuple[str, ...]] = {
    "community": ("oceanbase-ce", "oceanbase-ce-libs"),
    "business": ("oceanbase",),
    "standalone": ("oceanbase-standalone",),
}

_B = ErrorKind.BAD_REQUEST
PATH_NOT_EXIST = ErrorCode("OB.Upgrade.Path.NotExist", _B, "{}")
TO_LOWER_VERSION = ErrorCode("OB.Upgrade.ToLowerVersion", _B, "{}")
TO_DEPRECATED_VERSION = ErrorCode("OB.Upgrade.ToDeprecatedVersion", _B, "{}")
VERSION_NOT_SUPPORTED = ErrorCode("Agent.OBVersionNotSupported", _B, "{}")


class RouteProblem(Enum):
    """Why no route could be planned (``_CODES`` maps each to the obshell error code it is reported with)."""

    NO_ROUTE = "no_route"
    DOWNGRADE = "downgrade"
    SAME_BUILD = "same_build"
    DEPRECATED_TARGET = "deprecated_target"
    TARGET_UNSUPPORTED = "target_unsupported"


_CODES = {
    RouteProblem.NO_ROUTE: PATH_NOT_EXIST,
    RouteProblem.DOWNGRADE: TO_LOWER_VERSION,
    RouteProblem.SAME_BUILD: TO_LOWER_VERSION,
    RouteProblem.DEPRECATED_TARGET: TO_DEPRECATED_VERSION,
    RouteProblem.TARGET_UNSUPPORTED: VERSION_NOT_SUPPORTED,
}


class RouteError(ObshellError):
    """No upgrade route from ``current`` to ``target``; ``problem`` says why."""

    def __init__(self, problem: RouteProblem, current: Version, target: Version, message: str):
        super().__init__(_CODES[problem], message)
        self.problem = problem
        self.current = current
        self.target = target


class StepRole(Enum):
    START = "start"
    BARRIER = "barrier"
    TARGET = "target"


NULL_RELEASE = "null"  # obshell's release of a route node without a build


@dataclass(frozen=True)
class RouteStep:
    """One element of a route (one hop, after the start). ``version.build`` is None for a
    barrier the file names without a build: any non-deprecated build of that version will do;
    ``deprecated_builds`` lists the builds the file marks deprecated for that version, so a
    package picker can exclude them. In a DAG's context a step is obshell's route node JSON
    (:meth:`to_dict`, :meth:`from_dict`)."""

    version: Version
    role: StepRole = StepRole.TARGET
    deprecated_builds: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        """The four numbers, e.g. ``4.2.1.1``."""
        return self.version.number_string

    @property
    def release(self) -> str:
        """The build number, or ``null`` for "the newest non-deprecated build"."""
        return self.version.build or NULL_RELEASE

    @property
    def has_build(self) -> bool:
        return self.version.build is not None

    @property
    def build_version(self) -> str:
        return str(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {"Version": self.number, "Release": self.release, "BuildVersion": self.build_version,
                "RequireFromBinary": True, "DeprecatedInfo": list(self.deprecated_builds)}

    @classmethod
    def from_dict(cls, raw: Any) -> "RouteStep":
        """A route node of a DAG's context; ValueError names what is wrong with it."""
        if not isinstance(raw, dict) or not isinstance(raw.get("Version"), str) or not raw["Version"]:
            raise ValueError(f"route node {raw!r} has no Version")
        release = str(raw.get("Release") or NULL_RELEASE)
        version = Version.parse(raw["Version"]).with_build(None if release == NULL_RELEASE else release)
        return cls(version, StepRole.TARGET, tuple(str(item) for item in raw.get("DeprecatedInfo") or []))


@dataclass(frozen=True)
class UpgradeRoute:
    """Start, barriers and target, in order. Every step after the start is one upgrade hop with
    its own packages and scripts."""

    steps: tuple[RouteStep, ...]

    @property
    def start(self) -> RouteStep:
        return self.steps[0]

    @property
    def target(self) -> RouteStep:
        return self.steps[-1]

    @property
    def hops(self) -> tuple[RouteStep, ...]:
        return self.steps[1:]

    def build_versions(self) -> list[str]:
        return [step.build_version for step in self.steps]


@dataclass(frozen=True)
class RequiredPackage:
    """A package one hop needs: ``version.build`` None means the newest non-deprecated build."""

    name: str
    version: Version
    arch: str
    excluded_builds: tuple[str, ...] = ()


def plan_route(route_file: RouteFile, current: Version, target: Version) -> UpgradeRoute:
    """The upgrade route from the cluster's ``current`` version+build to ``target``.

    Raises :class:`RouteError` when there is none."""
    _check_direction(current, target)
    graph = _Graph.from_file(route_file)
    deprecated_node = graph.deprecated_node_for(target)
    if deprecated_node is not None:
        raise _error(RouteProblem.DEPRECATED_TARGET, current, target,
                     f"marked deprecated in the upgrade dependency YAML (entry {deprecated_node.key})")
    if current.same_numbers(target):
        return UpgradeRoute((RouteStep(current, StepRole.START), graph.step(target, StepRole.TARGET)))
    path = graph.shortest_path(current, target)
    if path is None:
        raise _error(RouteProblem.NO_ROUTE, current, target, "please check the upgrade dependency YAML file")
    if path[-1].deprecated:
        raise _error(RouteProblem.DEPRECATED_TARGET, current, target,
                     f"marked deprecated in the upgrade dependency YAML (entry {path[-1].key})")
    return UpgradeRoute(tuple(_keep_start_barriers_target(graph, _collapse_same_version(path), current, target)))


def required_packages(
    route: UpgradeRoute, arches: Iterable[str], edition: str = "community"
) -> list[RequiredPackage]:
    """Every package the hops after the start need, for every architecture of the cluster."""
    names = UPGRADE_PACKAGE_NAMES.get(edition)
    if names is None:
        raise ValueError(f"unknown edition {edition!r}; known: {', '.join(UPGRADE_PACKAGE_NAMES)}")
    arch_list = sorted(set(arches))
    if not arch_list or not all(isinstance(a, str) and a.strip() for a in arch_list):
        raise ValueError(f"arches must be a non-empty set of architecture names, got {arch_list!r}")
    return [
        RequiredPackage(name, step.version, arch, step.deprecated_builds)
        for step in route.hops
        for name in names
        for arch in arch_list
    ]


# --- checks ------------------------------------------------------------------------------


def _check_direction(current: Version, target: Version) -> None:
    if target.without_build() < MIN_SUPPORTED_TARGET:
        raise _error(RouteProblem.TARGET_UNSUPPORTED, current, target,
                     f"the minimum supported target version is {MIN_SUPPORTED_TARGET}")
    if target == current:
        raise _error(RouteProblem.SAME_BUILD, current, target, "it is the build the cluster already runs")
    if target < current:
        raise _error(RouteProblem.DOWNGRADE, current, target, "a downgrade is not possible")


def _error(problem: RouteProblem, current: Version, target: Version, reason: str) -> RouteError:
    summaries = {
        RouteProblem.NO_ROUTE: (
            f"Cannot find the upgrade path from the current version {current} to the target version {target}"
        ),
        RouteProblem.DOWNGRADE: f"Target version {target} is lower than current version {current}",
        RouteProblem.SAME_BUILD: f"Target version {target} is not greater than current version {current}",
        RouteProblem.DEPRECATED_TARGET: f"Target version {target} is deprecated, cannot upgrade from {current}",
        RouteProblem.TARGET_UNSUPPORTED: f"Unsupported target version {target} (current version {current})",
    }
    return RouteError(problem, current, target, f"{summaries[problem]}: {reason}")


# --- graph -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    key: str
    version: Version  # build set only for "A.B.C.D-BUILD" entries
    deprecated: bool = False
    requirement: BinaryRequirement = BinaryRequirement()
    successors: list["_Node"] = field(default_factory=list)

    @property
    def has_build(self) -> bool:
        return self.version.build is not None


@dataclass
class _Graph:
    nodes: dict[str, _Node]

    @classmethod
    def from_file(cls, route_file: RouteFile) -> "_Graph":
        nodes = {
            e.key: _Node(e.key, e.version, e.deprecated, e.require_from_binary) for e in route_file
        }
        for entry in route_file:
            node = nodes[entry.key]
            for key in entry.can_be_upgraded_to:
                # A target without its own entry is a plain leaf (e.g. the newest release).
                successor = nodes.setdefault(key, _Node(key, Version.parse(key)))
                node.successors.append(successor)
            # Build-specific successors first, so they win ties between equally short paths.
            node.successors.sort(key=lambda n: not n.has_build)
        return cls(nodes)

    def deprecated_node_for(self, target: Version) -> _Node | None:
        """The entry that marks the target (exact build, or its whole version) deprecated."""
        for key in (str(target), target.number_string):
            node = self.nodes.get(key)
            if node is not None and node.deprecated:
                return node
        return None

    def start_node(self, current: Version) -> _Node | None:
        exact = self.nodes.get(str(current))
        if exact is not None:
            return exact
        plain = self.nodes.get(current.number_string)
        if plain is not None:
            return plain
        # "A.B.C.D-BUILD" stands for builds >= BUILD: the closest one below the current build.
        candidates = [
            n for n in self.nodes.values()
            if n.has_build and n.version.same_numbers(current) and n.version.build_number <= current.build_number
        ]
        return max(candidates, key=lambda n: n.version.build_number, default=None)

    def shortest_path(self, current: Version, target: Version) -> list[_Node] | None:
        start = self.start_node(current)
        if start is None:
            return None
        parents: dict[str, _Node | None] = {start.key: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node.version.same_numbers(target):
                final = self._final_node(node, target, parents)
                if final is not None:
                    return _walk_back(final, parents)
                continue
            for successor in node.successors:
                if successor.key not in parents:
                    parents[successor.key] = node
                    queue.append(successor)
        return None

    def _final_node(self, node: _Node, target: Version, parents: dict[str, _Node | None]) -> _Node | None:
        if node.has_build:
            return node if node.version.build == target.build else None
        # A plain node of the target version; a build-specific successor for exactly the
        # target build is more precise.
        for successor in node.successors:
            if successor.has_build and successor.version == target and successor.key not in parents:
                parents[successor.key] = node
                return successor
        return node

    def step(self, version: Version, role: StepRole) -> RouteStep:
        deprecated = tuple(
            str(n.version.build) for n in self.nodes.values()
            if n.deprecated and n.has_build and n.version.same_numbers(version)
        )
        return RouteStep(version, role, deprecated)


def _walk_back(final: _Node, parents: dict[str, _Node | None]) -> list[_Node]:
    path = [final]
    while (parent := parents[path[-1].key]) is not None:
        path.append(parent)
    return path[::-1]


def _collapse_same_version(path: Sequence[_Node]) -> list[_Node]:
    """Keep the last node of each run of one version (the start always stays)."""
    return [
        node for i, node in enumerate(path)
        if i == 0 or i == len(path) - 1 or not path[i + 1].version.same_numbers(node.version)
    ]


def _keep_start_barriers_target(
    graph: _Graph, path: Sequence[_Node], current: Version, target: Version
) -> list[RouteStep]:
    steps = [RouteStep(current, StepRole.START)]
    running = current  # the binary the cluster runs when it reaches a node
    for node in path[1:-1]:
        if node.requirement.applies_when_coming_from(running):
            steps.append(graph.step(node.version, StepRole.BARRIER))
            running = node.version
    steps.append(graph.step(target, StepRole.TARGET))
    return steps
