"""POST /api/v1/ob/upgrade/plan in process: route, packages per hop, stages; bad bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.client import ObshellApiError, ObshellClient

from tests.api.upgrade import packages
from tests.api.upgrade.conftest import Cluster, facts

PLAN = "/api/v1/ob/upgrade/plan"
HEADER = ["Check the python environment", "Create upgrade dir", "Download all required packages",
          "Check all required packages", "Unpack all required packages"]
ROLLING_ZONE = ["Execute upgrade health checker script", "Stop {z}", "Reinstall and restart observer",
                "Execute upgrade zone health checker script", "Start {z}"]
ROLLING_HOP = (["Backup parameters", "Execute upgrade checker script", "Execute upgrade pre script"]
               + [name.format(z=f"zone{i}") for i in (1, 2, 3) for name in ROLLING_ZONE]
               + ["Execute upgrade post script", "Restore parameters"])
TAIL = ["Remove upgrade check task dir"]
AGENTS = [{"ip": f"127.0.{z}.1", "port": 2886} for z in (1, 2, 3)]
BARRIER_RELEASE = "100000012023120514.el7"  # hypothetical 4.2.1.1 build
TARGET_RELEASE = "100000052023122815.el7"


def body(version: str = "4.2.1.1", release: str = packages.RELEASE, mode: str = "rolling", **extra) -> dict:
    return {"version": version, "release": release, "mode": mode, "upgradeDir": "", **extra}


def plan(agent: ObshellClient, **kwargs) -> dict:
    return agent.request("POST", PLAN, body(**kwargs))


def refused(agent: ObshellClient, payload: dict) -> ObshellApiError:
    with pytest.raises(ObshellApiError) as caught:
        agent.request("POST", PLAN, payload)
    assert caught.value.status == 400, caught.value
    return caught.value


@pytest.fixture
def uploaded(agent: ObshellClient, tmp_path: Path) -> list[int]:
    """oceanbase-ce and -libs 4.2.1.1 (the route file of 4c4a07a8 inside)."""
    return [agent.upload_package(path).pkg_id for path in packages.build_pair(tmp_path / "rpms")]


def test_three_zone_one_hop_rolling_upgrade_has_26_stages(agent, uploaded):
    result = plan(agent, mode="Rolling")
    assert result["name"] == f"OB rolling upgrade 4.2.1.1-{packages.RELEASE}"
    assert (result["mode"], result["current_version"]) == ("ROLLING", "4.2.1.0-100000012023101010")
    assert [s["name"] for s in result["stages"]] == HEADER + ROLLING_HOP + TAIL
    assert result["max_stage"] == 26 and [s["index"] for s in result["stages"]] == list(range(1, 27))
    (hop,) = result["route"]
    assert (hop["version"], hop["release"], hop["role"]) == ("4.2.1.1", "101000062023110109", "target")
    assert sorted(p["pkg_id"] for p in hop["packages"]) == sorted(uploaded)
    assert result["ready"] is True and result["missing_packages"] == []
    by_name = {s["name"]: s for s in result["stages"]}
    assert by_name["Download all required packages"]["parallel"] and by_name["Download all required packages"]["agents"] == AGENTS
    assert not by_name["Stop zone2"]["parallel"] and by_name["Stop zone2"]["agents"] == []
    reinstalls = [s for s in result["stages"] if s["name"] == "Reinstall and restart observer"]
    assert [(s["zone"], s["agents"]) for s in reinstalls] == [(f"zone{i}", [AGENTS[i - 1]]) for i in (1, 2, 3)]


def test_freeze_server_adds_a_minor_freeze_after_each_zone_stop(agent, uploaded):
    names = [s["name"] for s in plan(agent, freeze_server=True)["stages"]]
    assert len(names) == 29
    for zone in ("zone1", "zone2", "zone3"):
        stop = names.index(f"Stop {zone}")
        assert names[stop + 1: stop + 3] == ["Minor freeze before stop server", "Reinstall and restart observer"]


def test_stop_service_restarts_every_observer_at_once(agent, uploaded):
    result = plan(agent, mode="stopService")
    assert result["name"].startswith("OB stop service upgrade 4.2.1.1-")
    assert [s["name"] for s in result["stages"]] == HEADER + [
        "Backup parameters", "Execute upgrade checker script", "Execute upgrade pre script",
        "Execute upgrade health checker script", "Reinstall and restart observer",
        "Execute upgrade health checker script", "Execute upgrade post script", "Restore parameters"] + TAIL
    (reinstall,) = [s for s in result["stages"] if s["name"] == "Reinstall and restart observer"]
    assert reinstall["parallel"] and reinstall["agents"] == AGENTS and reinstall["zone"] is None
    freeze = [s["name"] for s in plan(agent, mode="STOPSERVICE", freeze_server=True)["stages"]]
    assert freeze[6:9] == ["Execute upgrade checker script", "Minor freeze before stop server", "Execute upgrade pre script"]


def test_multi_hop_route_through_a_barrier_reports_missing_packages(agent, cluster: Cluster, tmp_path):
    # 4c4a07a8: from 4.2.0.0 to 4.2.1.2 the 4.2.1.1 binary must be installed on the way.
    cluster.facts = facts(current="4.2.0.0_100000012023071014-abc(Jul 10 2023 14:00:00)")
    for path in packages.build_pair(tmp_path / "target", "4.2.1.2", TARGET_RELEASE):
        agent.upload_package(path)
    barrier_ce = agent.upload_package(packages.build(tmp_path / "barrier", "oceanbase-ce", "4.2.1.1", BARRIER_RELEASE))
    result = plan(agent, version="4.2.1.2", release=TARGET_RELEASE)
    barrier, target = result["route"]
    assert (barrier["version"], barrier["release"], barrier["role"]) == ("4.2.1.1", "null", "barrier")
    assert (target["version"], target["release"], target["role"]) == ("4.2.1.2", "100000052023122815", "target")
    assert [p["pkg_id"] for p in barrier["packages"] if p["present"]] == [barrier_ce.pkg_id]
    assert result["missing_packages"] == ["oceanbase-ce-libs-4.2.1.1-${release}.el7.x86_64.rpm"]
    assert result["ready"] is False
    assert result["max_stage"] == 5 + 2 * 20 + 1
    assert {s["hop"] for s in result["stages"] if s["hop"] is not None} == {0, 1}


def test_target_package_must_be_stored_for_its_route_file(agent):
    error = refused(agent, body())
    assert error.err_code == "OB.Package.NotExist"
    assert f"oceanbase-ce-4.2.1.1-{packages.RELEASE}.x86_64.rpm" in error.message


def test_downgrade_is_refused_naming_both_versions(agent, cluster: Cluster):
    cluster.facts = facts(current="4.2.1.2_100000052023122815-abc(Dec 28 2023 15:00:00)")
    error = refused(agent, body())  # no package needed to know it goes down
    assert error.err_code == "OB.Upgrade.ToLowerVersion"
    assert "4.2.1.2-100000052023122815" in error.message and "4.2.1.1-101000062023110109" in error.message


def test_no_route_is_refused_naming_both_versions(agent, cluster: Cluster, tmp_path):
    cluster.facts = facts(current="4.2.1.1_101000062023110109-abc(Nov 1 2023 09:00:00)")
    agent.upload_package(packages.build(tmp_path, "oceanbase-ce", "4.3.0.0", "100000242024032211.el7"))
    error = refused(agent, body(version="4.3.0.0", release="100000242024032211.el7"))
    assert error.err_code == "OB.Upgrade.Path.NotExist"
    assert "4.2.1.1-101000062023110109" in error.message and "4.3.0.0-100000242024032211" in error.message


def test_rolling_needs_three_zones(agent, cluster: Cluster, uploaded):
    cluster.facts = facts(zone_count=2)
    error = refused(agent, body())
    assert error.err_code == "OB.Upgrade.UnableToRollingUpgrade" and "3 zones" in error.message
    assert plan(agent, mode="STOPSERVICE")["max_stage"] == 14  # stop-service has no zone rule


@pytest.mark.parametrize(("payload", "field"), [
    ({"version": "4.2.1"}, "version"),
    ({"version": "4.2.1.1-101000062023110109"}, "version"),
    ({"release": "101000062023110109"}, "release"),
    ({"release": "el7.101"}, "release"),
    ({"mode": "fast"}, "mode"),
    ({"freeze_server": "maybe"}, "freeze_server"),
])
def test_bad_bodies_name_the_field(agent, payload, field):
    error = refused(agent, {**body(), **payload})
    assert error.err_code == "Common.BindJsonFailed" and error.message.startswith(f"Bind JSON failed: {field}")
    assert [sub["field"] for sub in error.sub_errors] == [field]


@pytest.mark.parametrize("field", ["version", "release", "mode"])
def test_missing_required_fields_are_named(agent, field):
    payload = body()
    del payload[field]
    assert [sub["field"] for sub in refused(agent, payload).sub_errors] == [field]


@pytest.mark.parametrize("upgrade_dir", ["relative/dir", "/tmp/a b", "/../../etc"])
def test_bad_upgrade_dirs_are_refused(agent, uploaded, upgrade_dir):
    error = refused(agent, body(upgradeDir=upgrade_dir))
    assert error.err_code == "Common.BindJsonFailed" and upgrade_dir.strip() in error.message
    assert [sub["field"] for sub in error.sub_errors] == ["upgradeDir"]


def test_upgrade_dir_is_trimmed(agent, uploaded):
    assert plan(agent, upgradeDir="  /data/upgrade ")["upgrade_dir"] == "/data/upgrade"


def test_a_null_upgrade_dir_means_the_default(agent, uploaded):
    """obshell's SDK sends ``"upgradeDir": null`` when no directory is given (Go: zero value)."""
    assert plan(agent, upgradeDir=None)["upgrade_dir"] == ""


def test_a_null_required_field_is_refused_naming_it(agent, uploaded):
    error = refused(agent, body(mode=None))
    assert [sub["field"] for sub in error.sub_errors] == ["mode"]


def test_the_upgrade_and_check_bodies_are_obshells():
    """``UpgradeCheckParam`` is version, release, upgradeDir (the SDK's upgrade_ob_check sends no
    mode); ``ObUpgradeParam`` adds mode and freeze_server; null means the zero value in both."""
    from pyobshell.upgrade.plan import UpgradeRequest
    from pyobshell.wire.upgrade import ObUpgradeParam, UpgradeCheckParam

    check = UpgradeCheckParam.model_validate({"version": "4.2.1.1", "release": packages.RELEASE, "upgradeDir": None})
    assert (check.upgradeDir, UpgradeRequest.of(check).version.number_string) == ("", "4.2.1.1")
    upgrade = ObUpgradeParam.model_validate({"version": "4.2.1.1", "release": packages.RELEASE, "mode": "rolling",
                                             "upgradeDir": None, "freeze_server": None})
    assert (upgrade.upgradeDir, upgrade.freeze_server, upgrade.mode) == ("", False, "ROLLING")


# -- operator gates (pyobshell's own, all optional) -----------------------------------------------

def test_gates_add_their_nodes_only_when_asked_for(agent, uploaded):
    plain = plan(agent)
    assert plain["max_stage"] == 26 and (plain["pause_after_zones"], plain["soak_s"]) == ([], 0.0)
    assert [s["name"] for s in plain["stages"] if s["point_of_no_return"]] == ["Execute upgrade post script"]
    gated = plan(agent, pause_after_zones=["zone1"], soak_s=5, hold_before_finalize=True)
    names = [s["name"] for s in gated["stages"]]
    assert gated["max_stage"] == 26 + 3 + 1 + 1 and len(names) == gated["max_stage"]
    start1 = names.index("Start zone1")
    assert names[start1 + 1:start1 + 4] == ["Soak after zone1", "Wait for approval after zone1",
                                            "Execute upgrade health checker script"]
    assert [n for n in names if n.startswith("Soak after")] == ["Soak after zone1", "Soak after zone2", "Soak after zone3"]
    post = names.index("Execute upgrade post script")
    assert names[post - 2:post] == ["Soak after zone3", "Wait for approval to finalize"]
    assert names[post - 1] == "Wait for approval to finalize" and gated["stages"][post]["point_of_no_return"]
    assert (gated["pause_after_zones"], gated["soak_s"], gated["hold_before_finalize"]) == (["zone1"], 5.0, True)


def test_an_slo_is_echoed_by_the_plan_and_adds_no_node(agent, uploaded):
    result = plan(agent, slo={"max_p99_ms": 500, "max_error_rate": 0.01})
    assert result["max_stage"] == 26
    assert result["slo"] == {"max_error_rate": 0.01, "max_p99_ms": 500.0, "window_s": 30.0}


@pytest.mark.parametrize(("payload", "field"), [
    ({"soak_s": -1}, "soak_s"),
    ({"soak_s": "long"}, "soak_s"),
    ({"pause_after_zones": "zone1"}, "pause_after_zones"),
    ({"hold_before_finalize": "maybe"}, "hold_before_finalize"),
    ({"slo": {"max_error_rate": 1.5}}, "slo.max_error_rate"),
    ({"slo": {"max_p99_ms": -3}}, "slo.max_p99_ms"),
    ({"slo": {"max_p99_ms": 500, "window_s": 1000}}, "slo.window_s"),
    ({"slo": {"window_s": 10}}, "slo"),
    ({"slo": {"max_p99": 10}}, "slo.max_p99"),
])
def test_bad_gates_name_the_field(agent, payload, field):
    error = refused(agent, {**body(), **payload})
    assert error.err_code == "Common.BindJsonFailed", error
    assert [sub["field"] for sub in error.sub_errors] == [field]


def test_a_gate_on_an_unknown_zone_is_refused_naming_it(agent, uploaded):
    error = refused(agent, body(pause_after_zones=["zone1", "zone9"]))
    assert error.err_code == "OB.Upgrade.Gate.UnknownZone"
    assert "pause_after_zones" in error.message and "'zone9'" in error.message and "zone3" in error.message


def test_zone_gates_need_a_rolling_upgrade(agent, uploaded):
    error = refused(agent, body(mode="STOPSERVICE", pause_after_zones=["zone1"]))
    assert error.err_code == "OB.Upgrade.Gate.NeedsRolling" and "pause_after_zones" in error.message
    assert "soak_s" in refused(agent, body(mode="STOPSERVICE", soak_s=3)).message
    held = plan(agent, mode="STOPSERVICE", hold_before_finalize=True)
    names = [s["name"] for s in held["stages"]]
    assert held["max_stage"] == 15 and names[names.index("Execute upgrade post script") - 1] == "Wait for approval to finalize"


@pytest.mark.parametrize(("payload", "field"), [({"soak_s": -1}, "soak_s"), ({"slo": {"max_error_rate": 2}}, "slo.max_error_rate")])
def test_the_upgrade_itself_refuses_bad_gates_before_anything_runs(agent, payload, field):
    with pytest.raises(ObshellApiError) as caught:
        agent.request("POST", "/api/v1/ob/upgrade", {**body(), **payload})
    assert (caught.value.status, caught.value.err_code) == (400, "Common.BindJsonFailed")
    assert [sub["field"] for sub in caught.value.sub_errors] == [field]
