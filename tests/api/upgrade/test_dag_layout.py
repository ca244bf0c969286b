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
