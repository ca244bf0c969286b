"""The upgrade DAG layout on its own: stage counts, hop indices, refusals."""

from __future__ import annotations

import pytest

from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ObshellError
from pyobshell.upgrade.stages import StageKind, UpgradeMode, ZoneAgents, dag_name, upgrade_stages

from tests.api.upgrade.conftest import zones


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("zone_count", [1, 3, 5])
@pytest.mark.parametrize("freeze", [False, True])
def test_stage_counts_follow_the_formulas(hops, zone_count, freeze):
    f = int(freeze)
    rolling = upgrade_stages(hops, UpgradeMode.ROLLING, zones(zone_count), freeze)
    stop_service = upgrade_stages(hops, UpgradeMode.STOPSERVICE, zones(zone_count), freeze)
    assert len(rolling) == 5 + hops * (5 + zone_count * (5 + f)) + 1
    assert len(stop_service) == 5 + hops * (8 + f) + 1
    for stages in (rolling, stop_service):
        hop_of = [s.hop for s in stages if s.hop is not None]
        assert hop_of == sorted(hop_of) and set(hop_of) == set(range(hops))


def test_scripts_and_freeze_scopes_ride_on_the_stages():
    stages = upgrade_stages(1, UpgradeMode.ROLLING, zones(3), freeze_server=True)
    scripts = {s.name: s.script for s in stages if s.script}
    assert scripts["Execute upgrade pre script"] == "etc/upgrade_pre.py"
    assert scripts["Execute upgrade zone health checker script"] == "etc/upgrade_health_checker.py"
    freezes = [(s.freeze_scope.value, s.zone) for s in stages if s.kind is StageKind.MINOR_FREEZE]
    assert freezes == [("ZONE", "zone1"), ("ZONE", "zone2"), ("ZONE", "zone3")]
    (freeze,) = [s for s in upgrade_stages(1, UpgradeMode.STOPSERVICE, zones(3), True) if s.kind is StageKind.MINOR_FREEZE]
    assert (freeze.freeze_scope.value, freeze.zone) == ("GLOBAL", None)


def test_a_zone_with_two_observers_reinstalls_both_agents():
    layout = (ZoneAgents("z1", (AgentInfo("10.0.0.1", 2886), AgentInfo("10.0.0.2", 2886))),)
    (reinstall,) = [s for s in upgrade_stages(1, UpgradeMode.STOPSERVICE, layout) if s.kind is StageKind.REINSTALL_OBSERVER]
    assert [str(a) for a in reinstall.agents] == ["10.0.0.1:2886", "10.0.0.2:2886"]


@pytest.mark.parametrize(("hops", "layout"), [(0, zones(3)), (1, ()), (1, (ZoneAgents("zone1", ()),))])
def test_impossible_layouts_are_refused(hops, layout):
    with pytest.raises(ObshellError) as caught:
        upgrade_stages(hops, UpgradeMode.ROLLING, layout)
    assert caught.value.code == "OB.Upgrade.Layout.Invalid"


def test_modes_parse_in_any_case_and_name_the_dag():
    assert UpgradeMode.parse("stopService") is UpgradeMode.STOPSERVICE
    with pytest.raises(ValueError, match="ROLLING or STOPSERVICE"):
        UpgradeMode.parse("fast")
    assert dag_name(UpgradeMode.ROLLING, "4.2.1.1", "1.el7") == "OB rolling upgrade 4.2.1.1-1.el7"


def test_gate_and_soak_stages_become_gate_and_soak_nodes():
    from pyobshell.engine.model import APPROVAL_GATE_KEY
    from pyobshell.upgrade.dag import upgrade_template
    from pyobshell.upgrade.gates import UpgradeGates

    gates = UpgradeGates(pause_after_zones=("zone2",), soak_s=7.5, hold_before_finalize=True)
    stages = upgrade_stages(2, UpgradeMode.ROLLING, zones(3), gates=gates)
    assert len(stages) == 5 + 2 * (5 + 3 * 6 + 1) + 1 + 1  # a soak per zone and a zone gate per hop, one hold
    template = upgrade_template(stages, UpgradeMode.ROLLING, "4.2.1.1", "1.el7")
    by_name: dict[str, list] = {}
    for node in template.nodes:
        by_name.setdefault(node.name, []).append(node)
    (hold,) = by_name["Wait for approval to finalize"]
    assert "point of no return" in hold.context.get_param(APPROVAL_GATE_KEY)
    gate_zones = [n.context.get_param("zone") for n in by_name["Wait for approval after zone2"]]
    assert gate_zones == ["zone2", "zone2"]
    soak = by_name["Soak after zone1"][0]
    assert (soak.context.get_param("soakSeconds"), soak.context.has_param(APPROVAL_GATE_KEY)) == (7.5, False)
    posts = [s for s in stages if s.kind is StageKind.POST_SCRIPT]
    assert [s.point_of_no_return for s in posts] == [True, False]
