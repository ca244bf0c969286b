"""The live view's model: sections from node names, their state, current step, time and log."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.cli.dag_factory import dag, node, sub_task, upgrade_dag, upgrade_names
from pyobshell.cli.dag_view import build_view, format_elapsed, parse_time, section_names
from pyobshell.wire.upgrade import UpgradeMode

NOW = datetime(2024, 1, 1, 10, 1, 0, tzinfo=timezone.utc)


def test_a_rolling_upgrade_is_packages_checks_each_zone_finish_cleanup() -> None:
    names = upgrade_names()
    sections = section_names(names)
    assert list(dict.fromkeys(sections)) == ["packages", "checks", "zone1", "zone2", "zone3", "finish", "cleanup"]
    # The health check before "Stop zone1" belongs to zone1, and so does everything up to "Start zone1".
    assert names[8] == "Execute upgrade health checker script" and names[12] == "Start zone1"
    assert set(sections[8:13]) == {"zone1"}
    assert names[13] == "Execute upgrade health checker script" and sections[13] == "zone2"


def test_stop_service_and_several_hops() -> None:
    stop = section_names(upgrade_names(UpgradeMode.STOPSERVICE))
    assert list(dict.fromkeys(stop)) == ["packages", "checks", "all servers", "finish", "cleanup"]
    two_hops = list(dict.fromkeys(section_names(upgrade_names(hops=2, zones=3))))
    assert two_hops[:3] == ["packages", "hop 1 checks", "hop 1 zone1"]
    assert "hop 2 zone3" in two_hops and two_hops[-1] == "cleanup"


def test_a_dag_that_is_no_upgrade_is_one_section() -> None:
    assert section_names(["Create", "Start agent", "Stop agent"]) == ["task"] * 3


def test_sections_tell_state_current_step_and_latest_log() -> None:
    view = build_view(upgrade_dag(done=10), NOW)  # stage 11: zone1's reinstall runs
    sections = {s.name: s for s in view.sections}
    assert sections["packages"].state == "SUCCEED" and sections["packages"].done == 5
    zone1 = sections["zone1"]
    assert zone1.state == "RUNNING" and zone1.current.name == "Reinstall and restart observer"
    assert zone1.latest_log == "Reinstall and restart observer running"
    assert sections["zone2"].state == "PENDING" and sections["zone2"].current.stage == 14
    assert sections["zone1"].seconds == 60 - 9  # from the first start (10:00:09) until now, while it runs
    assert not view.finished


def test_a_failed_node_fails_its_section_and_the_view() -> None:
    view = build_view(upgrade_dag(done=23, failed=True), NOW)
    finish = next(s for s in view.sections if s.name == "finish")
    assert finish.state == "FAILED" and finish.current.name == "Execute upgrade post script"
    assert [n.name for n in view.failed_nodes] == ["Execute upgrade post script"]
    assert view.failed_nodes[0].seconds == 5.0  # end - start, not until now


def test_the_latest_log_comes_from_the_failed_sub_task() -> None:
    parallel = node(1, "Reinstall and restart observer", "FAILED", start=0, end=3, tasks=[
        sub_task(1, "SUCCEED", ["a done"]), sub_task(2, "FAILED", ["b started", "b broke"]),
        sub_task(3, "SUCCEED", ["c done"])])
    view = build_view(dag([parallel], state="FAILED"), NOW)
    assert view.nodes[0].latest_log == "b broke"


def test_a_running_node_is_timed_until_now_even_though_its_end_time_is_set() -> None:
    running = node(1, "Stop zone1", "RUNNING", start=30, end=30)
    assert build_view(dag([running]), NOW).nodes[0].seconds == 30.0


def test_times() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("2024-01-01T18:00:00+08:00") == datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    assert parse_time("garbage") is None
    assert [format_elapsed(s) for s in (None, 2.04, 75, 3725)] == ["", "2.0s", "1m15s", "1h02m"]
