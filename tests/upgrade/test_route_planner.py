from pathlib import Path
from textwrap import dedent

import pytest

from pyobshell.upgrade.route_file import load_route_file, parse_route_file
from pyobshell.upgrade.route import (
    RequiredPackage,
    RouteError,
    RouteProblem,
    StepRole,
    plan_route,
    required_packages,
)
from pyobshell.versions import Version

from tests.upgrade.route_oracle import RouteOracle

DATA = Path(__file__).resolve().parent.parent / "data"
FILES = {
    "4c4a07a8": DATA / "oceanbase_upgrade_dep.at-4c4a07a8.yml",
    "001272da": DATA / "oceanbase_upgrade_dep.at-001272da.yml",
}
NEWER, OLDER = (load_route_file(path) for path in FILES.values())
BETA = "4.1.0.0-100000192023032010"
RC2 = "4.2.0.0-100000152023080109"
RC2_HOTFIX = "4.2.0.0-100010022023081817"


def route(route_file, current: str, target: str) -> list[str]:
    return plan_route(route_file, Version.parse(current), Version.parse(target)).build_versions()


def problem(route_file, current: str, target: str) -> RouteProblem:
    with pytest.raises(RouteError) as caught:
        plan_route(route_file, Version.parse(current), Version.parse(target))
    return caught.value.problem


def _all_pairs():
    for name, path in FILES.items():
        versions = RouteOracle(path.read_text()).versions()
        for current in versions:
            for target in versions:
                yield pytest.param(name, current, target, id=f"{name}:{current}->{target}")


@pytest.mark.parametrize(("file_name", "current", "target"), list(_all_pairs()))
def test_every_version_pair_matches_the_independent_model(file_name, current, target):
    text = FILES[file_name].read_text()
    expected = RouteOracle(text).expect(current, target)
    route_file = parse_route_file(text)
    if expected.error is None:
        assert route(route_file, current, target) == expected.route
        return
    with pytest.raises(RouteError) as caught:
        plan_route(route_file, Version.parse(current), Version.parse(target))
    assert caught.value.problem.name == expected.error
    assert current in caught.value.message and target in caught.value.message
    assert caught.value.status == 400


def test_every_pair_covers_every_outcome():
    """Guards the exhaustive test above against silently degenerating to one outcome."""
    outcomes = set()
    for path in FILES.values():
        oracle = RouteOracle(path.read_text())
        for current in oracle.versions():
            for target in oracle.versions():
                expected = oracle.expect(current, target)
                outcomes.add(expected.error or f"route of {len(expected.route)}")
    assert outcomes >= {"NO_ROUTE", "DOWNGRADE", "SAME_BUILD", "DEPRECATED_TARGET", "TARGET_UNSUPPORTED",
                        "route of 2", "route of 3", "route of 4"}


# --- hand-checked cases on the real files ------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("4.1.0.1", "4.2.1.2", ["4.1.0.1", "4.2.1.1", "4.2.1.2"]),  # the reference's worked example
        ("4.2.0.0", "4.2.1.2", ["4.2.0.0", "4.2.1.1", "4.2.1.2"]),
        ("4.2.1.0", "4.2.1.2", ["4.2.1.0", "4.2.1.2"]),  # 4.2.1.0 is not in 4.2.1.1's when_come_from
        ("4.1.0.0", "4.2.0.0", ["4.1.0.0", "4.2.0.0"]),  # 4.1.0.2 is a barrier only from 4.0/beta
        (BETA, "4.2.0.0", [BETA, "4.1.0.2", "4.2.0.0"]),
        # After the 4.1.0.2 binary the cluster "comes from" 4.1.0.2, which 4.2.1.1 lists.
        ("4.0.0.0", "4.2.1.2", ["4.0.0.0", "4.1.0.2", "4.2.1.1", "4.2.1.2"]),
        (RC2, "4.2.1.2", [RC2, "4.2.1.1", "4.2.1.2"]),
        ("4.3.0.0", "4.3.3.0", ["4.3.0.0", "4.3.3.0"]),
    ],
)
def test_known_routes_in_the_newer_file(current, target, expected):
    assert route(NEWER, current, target) == expected


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("4.1.0.1", "4.2.1.2", ["4.1.0.1", "4.2.1.2"]),  # here 4.2.1.1 is no barrier
        ("4.2.1.0", "4.3.0.0", ["4.2.1.0", "4.3.0.0"]),
        ("4.2.1.1", "4.3.0.0", ["4.2.1.1", "4.3.0.0"]),
        ("4.2.0.0", "4.3.0.0", ["4.2.0.0", "4.2.1.2", "4.3.0.0"]),
        ("4.1.0.1", "4.3.0.0", ["4.1.0.1", "4.2.1.2", "4.3.0.0"]),
        ("4.0.0.0", "4.3.0.0", ["4.0.0.0", "4.1.0.2", "4.2.1.2", "4.3.0.0"]),
    ],
)
def test_older_file_routes_4_2_to_4_3_through_its_barrier(current, target, expected):
    assert route(OLDER, current, target) == expected


@pytest.mark.parametrize("current", ["4.2.0.0", "4.2.1.0", "4.2.1.1", "4.2.1.2", "4.1.0.2"])
@pytest.mark.parametrize("target", ["4.3.0.0", "4.3.0.1", "4.3.3.0"])
def test_newer_file_has_no_route_from_4_2_to_4_3(current, target):
    assert problem(NEWER, current, target) is RouteProblem.NO_ROUTE


def test_no_route_message_names_both_versions_and_uses_obshells_code():
    with pytest.raises(RouteError) as caught:
        plan_route(NEWER, Version.parse("4.2.1.1-101000062023110109"), Version.parse("4.3.0.0-100000242024032211"))
    error = caught.value
    assert error.code == "OB.Upgrade.Path.NotExist"
    assert "4.2.1.1-101000062023110109" in error.message and "4.3.0.0-100000242024032211" in error.message


def test_older_file_cannot_reach_versions_it_does_not_know():
    assert problem(OLDER, "4.3.0.0", "4.3.0.1") is RouteProblem.NO_ROUTE
    assert problem(OLDER, "4.2.1.0", "4.3.1.0") is RouteProblem.NO_ROUTE


def test_unknown_start_version_has_no_route():
    assert problem(NEWER, "4.2.2.0", "4.2.3.0") is RouteProblem.NO_ROUTE


@pytest.mark.parametrize("target", [RC2, RC2_HOTFIX])
def test_deprecated_builds_are_refused_as_target(target):
    with pytest.raises(RouteError) as caught:
        plan_route(NEWER, Version.parse("4.1.0.2"), Version.parse(target))
    assert caught.value.problem is RouteProblem.DEPRECATED_TARGET
    assert caught.value.code == "OB.Upgrade.ToDeprecatedVersion"
    assert "4.1.0.2" in caught.value.message and target in caught.value.message


def test_deprecated_build_is_refused_even_as_a_same_version_hotfix():
    assert problem(NEWER, RC2, RC2_HOTFIX) is RouteProblem.DEPRECATED_TARGET


@pytest.mark.parametrize(
    ("current", "target"),
    [("4.2.1.1", "4.2.1.0"), ("4.3.0.0", "4.2.1.2"), ("4.2.1.0-200", "4.2.1.0-100"), ("4.2.1.0-5", "4.2.1.0")],
)
def test_downgrade_is_refused(current, target):
    with pytest.raises(RouteError) as caught:
        plan_route(NEWER, Version.parse(current), Version.parse(target))
    assert caught.value.problem is RouteProblem.DOWNGRADE
    assert caught.value.code == "OB.Upgrade.ToLowerVersion"
    assert current in caught.value.message and target in caught.value.message


def test_same_build_is_refused():
    assert problem(NEWER, "4.2.1.0-101000062023110109", "4.2.1.0-101000062023110109") is RouteProblem.SAME_BUILD


@pytest.mark.parametrize("target", ["4.1.0.2", "4.0.0.0", "4.1.0.0-999999999999999999"])
def test_targets_below_4_2_are_unsupported(target):
    with pytest.raises(RouteError) as caught:
        plan_route(NEWER, Version.parse("4.0.0.0"), Version.parse(target))
    assert caught.value.problem is RouteProblem.TARGET_UNSUPPORTED
    assert "4.2.0.0" in caught.value.message


def test_same_version_newer_build_is_one_hop_without_the_file():
    empty = parse_route_file("- version: 1.0.0.0\n")
    planned = plan_route(empty, Version.parse("4.2.5.0-100"), Version.parse("4.2.5.0-200"))
    assert planned.build_versions() == ["4.2.5.0-100", "4.2.5.0-200"]
    assert [s.role for s in planned.steps] == [StepRole.START, StepRole.TARGET]


def test_route_carries_real_builds_of_start_and_target_and_roles():
    planned = plan_route(NEWER, Version.parse("4.1.0.1-100000102023060715"), Version.parse("4.2.1.2-100000052023122815"))
    assert planned.build_versions() == ["4.1.0.1-100000102023060715", "4.2.1.1", "4.2.1.2-100000052023122815"]
    assert [s.role for s in planned.steps] == [StepRole.START, StepRole.BARRIER, StepRole.TARGET]
    assert [s.build_version for s in planned.hops] == ["4.2.1.1", "4.2.1.2-100000052023122815"]


def test_a_beta_cluster_matches_its_build_specific_entry():
    # Only the exact beta build counts as "coming from" the beta: 4.1.0.2 is then a barrier.
    assert route(NEWER, BETA, "4.2.0.0-1") == [BETA, "4.1.0.2", "4.2.0.0-1"]
    assert route(NEWER, "4.1.0.0-100000202023040520", "4.2.0.0-1") == ["4.1.0.0-100000202023040520", "4.2.0.0-1"]


def test_hops_know_the_deprecated_builds_of_their_version():
    planned = plan_route(NEWER, Version.parse("4.1.0.0"), Version.parse("4.2.0.0"))
    assert set(planned.target.deprecated_builds) == {RC2.split("-")[1], RC2_HOTFIX.split("-")[1]}


# --- rules on small graphs ---------------------------------------------------------------


def _file(text: str):
    return parse_route_file(dedent(text))


def test_search_is_breadth_first_not_depth_first():
    # obshell's stack-based search explores the last-listed edge first and would take
    # 4.2.0.0 -> 4.2.2.0 -> 4.2.3.0 -> 4.2.4.0 (barrier 4.2.3.0); the shortest path is direct.
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.4.0, 4.2.2.0]
        - version: 4.2.2.0
          can_be_upgraded_to: [4.2.3.0]
        - version: 4.2.3.0
          can_be_upgraded_to: [4.2.4.0]
          require_from_binary: True
    """)
    assert route(graph, "4.2.0.0", "4.2.4.0") == ["4.2.0.0", "4.2.4.0"]
    graph_reversed = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.2.0, 4.2.4.0]
        - version: 4.2.2.0
          can_be_upgraded_to: [4.2.3.0]
        - version: 4.2.3.0
          can_be_upgraded_to: [4.2.4.0]
          require_from_binary: True
    """)
    assert route(graph_reversed, "4.2.0.0", "4.2.4.0") == ["4.2.0.0", "4.2.4.0"]


def test_build_specific_neighbour_wins_a_tie():
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.1.0, 4.2.1.0-7]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.1.0-7
          can_be_upgraded_to: [4.2.2.0]
          require_from_binary: True
    """)
    assert route(graph, "4.2.0.0", "4.2.2.0") == ["4.2.0.0", "4.2.1.0-7", "4.2.2.0"]


def test_plain_node_leads_on_to_the_exact_target_build():
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.1.0]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.1.0-9, 4.2.2.0]
          require_from_binary: True
        - version: 4.2.1.0-9
          deprecated: True
    """)
    assert problem(graph, "4.2.0.0", "4.2.1.0-9") is RouteProblem.DEPRECATED_TARGET
    planned = plan_route(graph, Version.parse("4.2.0.0"), Version.parse("4.2.1.0-8"))
    assert planned.build_versions() == ["4.2.0.0", "4.2.1.0-8"]
    assert planned.target.deprecated_builds == ("9",)


def test_deprecated_versions_may_be_passed_through():
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.1.0]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.2.0]
          deprecated: True
          require_from_binary: True
    """)
    assert route(graph, "4.2.0.0", "4.2.2.0") == ["4.2.0.0", "4.2.1.0", "4.2.2.0"]
    assert problem(graph, "4.2.0.0", "4.2.1.0-5") is RouteProblem.DEPRECATED_TARGET


def test_conditional_requirement_with_value_false_is_never_a_barrier():
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.1.0]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.2.0]
          require_from_binary: {value: False, when_come_from: [4.2.0.0]}
    """)
    assert route(graph, "4.2.0.0", "4.2.2.0") == ["4.2.0.0", "4.2.2.0"]


def test_cycles_do_not_loop():
    graph = _file("""
        - version: 4.2.0.0
          can_be_upgraded_to: [4.2.1.0]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.0.0]
    """)
    assert problem(graph, "4.2.0.0", "4.2.5.0") is RouteProblem.NO_ROUTE
    assert route(graph, "4.2.0.0", "4.2.1.0") == ["4.2.0.0", "4.2.1.0"]


def test_build_suffixed_entry_stands_for_builds_at_or_above_it():
    graph = _file("""
        - version: 4.5.0.0-100
          can_be_upgraded_to: [4.5.1.0]
    """)
    assert route(graph, "4.5.0.0-150", "4.5.1.0") == ["4.5.0.0-150", "4.5.1.0"]
    assert problem(graph, "4.5.0.0-50", "4.5.1.0") is RouteProblem.NO_ROUTE


# --- packages ----------------------------------------------------------------------------


def test_required_packages_for_every_hop_and_arch():
    planned = plan_route(NEWER, Version.parse("4.1.0.1"), Version.parse("4.2.1.2-100000052023122815"))
    packages = required_packages(planned, {"x86_64", "aarch64"})
    assert len(packages) == 2 * 2 * 2
    assert RequiredPackage("oceanbase-ce", Version.parse("4.2.1.1"), "aarch64") in packages
    assert RequiredPackage("oceanbase-ce-libs", Version.parse("4.2.1.2-100000052023122815"), "x86_64") in packages
    assert {p.version.number_string for p in packages} == {"4.2.1.1", "4.2.1.2"}  # none for the start


def test_required_packages_carry_deprecated_builds_to_exclude():
    planned = plan_route(NEWER, Version.parse("4.1.0.0"), Version.parse("4.2.0.0"))
    (package,) = required_packages(planned, {"x86_64"}, edition="business")
    assert package.name == "oceanbase"
    assert set(package.excluded_builds) == {RC2.split("-")[1], RC2_HOTFIX.split("-")[1]}


def test_required_packages_refuses_bad_input():
    planned = plan_route(NEWER, Version.parse("4.2.1.0"), Version.parse("4.2.1.1"))
    with pytest.raises(ValueError, match="arches"):
        required_packages(planned, set())
    with pytest.raises(ValueError, match="unknown edition"):
        required_packages(planned, {"x86_64"}, edition="enterprise")
