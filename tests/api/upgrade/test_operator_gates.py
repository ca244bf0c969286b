"""Operator gates on one simulated 3-zone cluster with agents (issue "Operator gates"), three
upgrades in a row (4.2.1.0 → 4.2.1.1 → 4.2.1.2 → 4.2.1.3), so the tests run in file order:

1. PAUSE while zone2's observer is reinstalled: that node completes, nothing starts for 10 s,
   the DAG reads PAUSED; the maintainer killed (-9) meanwhile, the new one keeps it paused;
   RESUME through another agent finishes it. PAUSE/RESUME of the finished DAG are refused.
2. ``pause_after_zones: [zone1]`` with ``hold_before_finalize``: zone1 upgraded and serving
   while zone2 was never stopped; RESUME; then every server at the new build with
   ``min_observer_version`` still the old one, the DAG waiting; RESUME finalizes.
3. ``slo`` with ``slow_sql`` injected mid-upgrade: the DAG pauses, naming the breach in its log;
   the fault cleared, RESUME finishes it.
"""

from __future__ import annotations

import time

import pytest

from pyobshell.client import ObshellApiError
from pyobshell.sim.faults import clear_fault, set_fault
from pyobshell.sim.log_streams import read_history
from tests.api.upgrade.upgrade_runs import RELEASES, build_packages, cluster_versions, outline, route_file
from tests.helpers import nets
from tests.helpers.kill_matrix import PASSWORD, Rig, StoreWatch, wait_stage
from tests.helpers.sim import connect, observer_pid, query, wait_for

pytestmark = pytest.mark.multiprocess
UPGRADE = "/api/v1/ob/upgrade"
DAG_TIMEOUT_S = 300.0
QUIET_S = 10.0  # how long a paused DAG is watched for a node that starts


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("gates")
    versions = ["4.2.1.1", "4.2.1.2", "4.2.1.3"]
    rpms = build_packages(root / "rpm", versions, route_file(root / "dep.yml", ["4.2.1.0", *versions]))
    with Rig(root, nets.OPERATOR_GATES) as rig:
        with rig.client(rig.agents[0]) as api:
            for rpm in rpms:
                api.upload_package(rpm)
        yield rig


def body(version: str, **gates) -> dict:
    return {"version": version, "release": RELEASES[version], "mode": "ROLLING", "upgradeDir": "", **gates}


def dag_of(rig: Rig, agent: dict, gid: str) -> dict:
    with rig.client(agent) as api:
        return api.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "true"})


def operate(rig: Rig, agent: dict, gid: str, operator: str) -> None:
    with rig.client(agent) as api:
        api.request("POST", f"/api/v1/task/dag/{gid}", {"operator": operator})


def wait_state(rig: Rig, gid: str, states: tuple[str, ...], timeout: float = DAG_TIMEOUT_S) -> dict:
    """The DAG, read through any agent that answers, once its state is one of ``states``."""
    def reached() -> dict | None:
        for agent in rig.agents:
            try:
                dag = dag_of(rig, agent, gid)
            except Exception:  # noqa: BLE001 - that agent is away (killed, starting): ask the next
                continue
            return dag if dag["state"] in states else None
        return None

    return wait_for(reached, timeout, f"DAG {gid} to be {'/'.join(states)}")


def servers(rig: Rig) -> dict[str, tuple[str, str]]:
    """zone → (build version, status) of its one server."""
    with connect(rig.document["observers"][0], PASSWORD) as conn:
        rows = query(conn, "SELECT ZONE, BUILD_VERSION, STATUS FROM DBA_OB_SERVERS")
    return {zone: (build.split("_")[0], status) for zone, build, status in rows}


def zone_status(rig: Rig, zone: str) -> str:
    with connect(rig.document["observers"][0], PASSWORD) as conn:
        return str(query(conn, "SELECT STATUS FROM DBA_OB_ZONES WHERE ZONE = %s", (zone,))[0][0])


def stage_states(dag: dict) -> list[str]:
    return [node["state"] for node in dag["nodes"]]


def assert_nothing_starts(rig: Rig, gid: str, seconds: float) -> dict:
    """The DAG stays PAUSED at the same stage, with no node running, for ``seconds``."""
    first = wait_state(rig, gid, ("PAUSED",), 30)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dag = wait_state(rig, gid, ("PAUSED",), 30)
        assert (dag["stage"], "RUNNING" in stage_states(dag)) == (first["stage"], False), outline(dag)
        time.sleep(1.0)
    return first


def test_pause_during_a_restart_survives_a_maintainer_kill_and_resume_finishes(rig: Rig) -> None:
    watch = StoreWatch(rig.document["observers"])
    with rig.client(rig.agents[0]) as api:
        created = api.request("POST", UPGRADE, body("4.2.1.1"))
    gid, dag_id = created["id"], int(created["dag_id"])
    assert created["max_stage"] == 26  # no gate asked for: the usual DAG
    names = watch.stage_names(dag_id)
    zone2_reinstall = [i for i, name in enumerate(names, 1) if name == "Reinstall and restart observer"][1]
    wait_stage(watch, dag_id, zone2_reinstall)
    operate(rig, rig.agents[0], gid, "PAUSE")
    at_pause = dag_of(rig, rig.agents[0], gid)
    running = at_pause["stage"]
    assert at_pause["additional_data"]["pause"]["reason"] == "paused by an operator (PAUSE)"

    paused = assert_nothing_starts(rig, gid, QUIET_S)
    states = stage_states(paused)
    assert states[running - 1] == "SUCCEED" and states[running] == "PENDING", outline(paused)
    assert paused["stage"] == running + 1 and paused["additional_data"]["pause"]["in_effect"] is True

    old = watch.maintainer()
    rig.kill_agent(rig.agent(old))
    wait_for(lambda: (now := watch.maintainer()) and now != old and now, 60, "a new maintainer")
    rig.start_agent(rig.agent(old))
    assert_nothing_starts(rig, gid, 3.0)  # still paused under the new maintainer
    other = next(a for a in rig.agents[1:] if f"{a['ip']}:{a['port']}" != old)
    operate(rig, other, gid, "RESUME")
    done = wait_state(rig, gid, ("SUCCEED", "FAILED"))
    assert done["state"] == "SUCCEED", outline(done)
    assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({"4.2.1.1"}, {"4.2.1.1"})

    for operator, code in (("PAUSE", "Task.Dag.Operator.PauseNotRunningDag"),
                           ("RESUME", "Task.Dag.Operator.ResumeNotPausedDag")):
        with pytest.raises(ObshellApiError) as caught:
            operate(rig, rig.agents[0], gid, operator)
        assert (caught.value.status, caught.value.err_code) == (400, code)
    assert dag_of(rig, rig.agents[0], gid)["state"] == "SUCCEED"  # nothing changed
    watch.close()


def test_a_canary_zone_and_a_hold_before_finalize_wait_for_resume(rig: Rig) -> None:
    zone2 = next(o for o in rig.document["observers"] if o["zone"] == "zone2")
    zone2_pid = observer_pid(zone2)
    began_us = time.time_ns() // 1000
    with rig.client(rig.agents[1]) as api:
        created = api.request("POST", UPGRADE, body("4.2.1.2", pause_after_zones=["zone1"], hold_before_finalize=True))
    gid = created["id"]
    assert created["max_stage"] == 28

    canary = wait_state(rig, gid, ("PAUSED", "SUCCEED", "FAILED"))
    assert canary["state"] == "PAUSED", outline(canary)
    assert canary["additional_data"]["pause"]["gate"] == "Wait for approval after zone1"
    assert servers(rig)["zone1"] == ("4.2.1.2", "ACTIVE") and zone_status(rig, "zone1") == "ACTIVE"
    assert_nothing_starts(rig, gid, 3.0)
    assert servers(rig)["zone2"] == ("4.2.1.1", "ACTIVE") and zone_status(rig, "zone2") == "ACTIVE"
    assert observer_pid(zone2) == zone2_pid
    stops = [e.info for e in read_history(rig.directory / "state") if e.kind == "stop_zone" and e.at_us > began_us]
    assert stops == ["zone1"], stops

    operate(rig, rig.agents[2], gid, "RESUME")
    hold = wait_state(rig, gid, ("PAUSED", "SUCCEED", "FAILED"))
    while hold["state"] == "PAUSED" and hold["additional_data"]["pause"]["gate"] == "Wait for approval after zone1":
        hold = wait_state(rig, gid, ("PAUSED", "SUCCEED", "FAILED"))  # the resume is still on its way
    assert hold["state"] == "PAUSED", outline(hold)
    assert hold["additional_data"]["pause"]["gate"] == "Wait for approval to finalize"
    assert "point of no return" in hold["additional_data"]["pause"]["reason"]
    builds, minimum = cluster_versions(rig.document["observers"][0], PASSWORD)
    assert (builds, minimum) == ({"4.2.1.2"}, {"4.2.1.1"})  # all on the new build, nothing finalized

    operate(rig, rig.agents[0], gid, "RESUME")
    done = wait_state(rig, gid, ("SUCCEED", "FAILED"))
    assert done["state"] == "SUCCEED", outline(done)
    assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({"4.2.1.2"}, {"4.2.1.2"})
    gates = [n for n in done["nodes"] if n["name"].startswith("Wait for approval")]
    assert [(n["name"], n["state"]) for n in gates] == [("Wait for approval after zone1", "SUCCEED"),
                                                        ("Wait for approval to finalize", "SUCCEED")]


def test_an_slo_breach_pauses_the_upgrade_until_resume(rig: Rig) -> None:
    # Not the maintainer's observer: the global scripts run there, and at 2.5 s a statement they
    # would run into the rig's script timeout (a FAILED step) before the breach pauses the DAG.
    watch = StoreWatch(rig.document["observers"])
    try:
        maintainer_ip = watch.maintainer().split(":")[0]
    finally:
        watch.close()
    slow = next(o for o in reversed(rig.document["observers"]) if o["ip"] != maintainer_ip)
    # Above what a busy test machine shows by itself (up to about a second), below the injected
    # delay; a slowed statement that runs into the probe's 3 s read timeout counts as an error.
    # The window spans several probe rounds slowed by that delay.
    slo = {"max_p99_ms": 1800, "max_error_rate": 0.2, "window_s": 20}
    with rig.client(rig.agents[0]) as api:
        created = api.request("POST", UPGRADE, body("4.2.1.3", slo=slo))
    gid = created["id"]
    assert created["max_stage"] == 26  # an SLO adds no node

    def in_zones() -> dict | None:
        dag = dag_of(rig, rig.agents[0], gid)
        return dag if dag["stage"] >= 7 or dag["state"] in ("PAUSED", "SUCCEED", "FAILED") else None

    reached = wait_for(in_zones, 180, "the upgrade to reach its zones")
    assert reached["state"] == "RUNNING", (reached["state"], (reached["additional_data"] or {}).get("pause"))
    set_fault(rig.directory, "slow_sql", f"{slow['ip']}:{slow['rpc_port']}", "2500")
    try:
        paused = wait_state(rig, gid, ("PAUSED", "SUCCEED", "FAILED"))
        assert paused["state"] == "PAUSED", outline(paused)
        reason = paused["additional_data"]["pause"]["reason"]
        assert reason.startswith("SLO breach: ") and ("> 1800 ms" in reason or "> 20 %" in reason), reason
        assert "over the last" in reason and "statements" in reason, reason
        logs = [line for node in paused["nodes"] for task in node["sub_tasks"] or [] for line in task["task_logs"] or []]
        assert any("DAG paused: SLO breach" in line for line in logs), logs[-5:]
        assert "RUNNING" not in stage_states(paused)
    finally:
        clear_fault(rig.directory)
    operate(rig, rig.agents[1], gid, "RESUME")  # what was seen before the RESUME is not held against it
    done = wait_state(rig, gid, ("SUCCEED", "FAILED", "PAUSED"))
    # Statements begun during the pause, under the fault, end after the RESUME: they once paused
    # the DAG again at once. Only what clients see after the RESUME counts.
    assert done["state"] == "SUCCEED", (outline(done), (done["additional_data"] or {}).get("pause"))
    assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({"4.2.1.3"}, {"4.2.1.3"})
