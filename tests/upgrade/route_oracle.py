"""An independent model of the route rules, used to check the planner on every version pair.

It works on the raw YAML (not on the planner's parsed file) and finds shortest paths by
enumerating every simple path instead of breadth-first search.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class Expected:
    route: list[str] | None = None  # build versions, start first
    error: str | None = None  # RouteProblem name


def _split(key: str) -> tuple[tuple[int, ...], int]:
    numbers, _, build = key.partition("-")
    return tuple(int(n) for n in numbers.split(".")), int(build or 0)


def _numbers(key: str) -> str:
    return key.partition("-")[0]


class RouteOracle:
    def __init__(self, text: str):
        raw = yaml.safe_load(text)
        self.entries = {item["version"]: item for item in raw}
        self.edges = {key: list(item.get("can_be_upgraded_to") or []) for key, item in self.entries.items()}

    def versions(self) -> list[str]:
        found = []
        for key, targets in self.edges.items():
            for version in [key, *targets]:
                if version not in found:
                    found.append(version)
        return found

    def _deprecated(self, key: str) -> bool:
        return bool(self.entries.get(key, {}).get("deprecated", False))

    def _is_barrier(self, key: str, coming_from: str) -> bool:
        spec = self.entries.get(key, {}).get("require_from_binary", False)
        if isinstance(spec, bool):
            return spec
        origins = spec.get("when_come_from") or []
        if not origins:
            return bool(spec["value"])
        return bool(spec["value"]) and (coming_from in origins or _numbers(coming_from) in origins)

    def _all_simple_paths(self, start: str, target: str) -> list[list[str]]:
        """Every simple path from start that ends where the planner must stop: at the target's
        exact key, or at its plain version key (unless that leads on to the exact key)."""
        plain = _numbers(target)
        found: list[list[str]] = []

        def walk(path: list[str]) -> None:
            node = path[-1]
            if len(path) > 1 and _numbers(node) == plain:
                if node == target or (node == plain and target not in self.edges.get(node, [])):
                    found.append(list(path))
                elif node == plain and target not in path:
                    found.append(path + [target])
                return  # other builds of the target version are dead ends
            for nxt in self.edges.get(node, []):
                if nxt not in path:
                    walk(path + [nxt])

        walk([start])
        return found

    def expect(self, current: str, target: str) -> Expected:
        cur, tgt = _split(current), _split(target)
        if tgt[0] < (4, 2, 0, 0):
            return Expected(error="TARGET_UNSUPPORTED")
        if tgt == cur:
            return Expected(error="SAME_BUILD")
        if tgt < cur:
            return Expected(error="DOWNGRADE")
        if self._deprecated(target) or self._deprecated(_numbers(target)):
            return Expected(error="DEPRECATED_TARGET")
        if cur[0] == tgt[0]:
            return Expected(route=[current, target])
        if current in self.entries or any(current in t for t in self.edges.values()):
            start = current
        elif _numbers(current) in self.versions():
            start = _numbers(current)
        else:
            return Expected(error="NO_ROUTE")
        paths = self._all_simple_paths(start, target)
        if not paths:
            return Expected(error="NO_ROUTE")
        shortest = min(len(p) for p in paths)
        routes = {tuple(self._format(p, current, target)) for p in paths if len(p) == shortest}
        assert len(routes) == 1, f"ambiguous shortest routes in test data: {routes}"
        return Expected(route=list(routes.pop()))

    def _format(self, path: list[str], current: str, target: str) -> list[str]:
        route, running = [current], current
        for i, node in enumerate(path[1:-1], start=1):
            if _numbers(path[i + 1]) == _numbers(node):
                continue  # only the last node of a same-version run counts
            if self._is_barrier(node, running):
                route.append(node)
                running = node
        return route + [target]
