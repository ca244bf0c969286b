"""Verified zone handover and the live SQL probe, on simulated 3-zone clusters with agents.

1. A rolling upgrade where no observer is killed while it leads a log stream, and the probe
   (on the maintainer) saw every statement succeed — checked against the simulator's history.
2. A leader that cannot move (``leaders_stuck``): the DAG stops at "Stop zone2" naming the
   stuck log streams, zone2's observer is never killed; clearing the fault and RETRY finish it.
   An observer with ``slow_sql`` meanwhile shows in the probe's p99, in the API and the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyobshell.sim.faults import clear_fault, set_fault
from pyobshell.sim.log_streams import leaders_at, read_history
from tests.api.upgrade.upgrade_runs import (
    OLD_VERSION, UPGRADE, body, build_packages, client_for, cluster_versions, failed_node, node_logs, outline,
    retry, route_file, wait_finished,
)
from tests.helpers import nets
from tests.helpers.sim import observer_pid, run_cli, sim_cluster, wait_for

pytestmark = pytest.mark.multiprocess
PASSWORD = "probe-Passw0rd"
NEW = "4.2.1.1"
PROBE = "/api/v1/ob/upgrade/probe"
STUCK_WAIT = {"PYOBSHELL_UPGRADE_TIMINGS": "leader_drain_wait_s=4,cluster_ready_wait_s=20"}
SLOW_MS = 120


def cluster_with_packages(root: Path, net: int, env: dict[str, str] | None = None):
    rpms = build_packages(root / "rpm", [NEW], route_file(root / "dep.yml", [OLD_VERSION, NEW]))
    cluster = sim_cluster(root / "c", net, password=PASSWORD, agents=True, env=env)
    document = cluster.__enter__()
    try:
        api = client_for(document["agents"][0], PASSWORD)
        for rpm in rpms:
            api.upload_package(rpm)
        document["dir"] = root / "c"
    except BaseException:
        cluster.__exit__(None, None, None)
        raise
    return cluster, document


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory):
    cluster, document = cluster_with_packages(tmp_path_factory.mktemp("handover"), nets.HANDOVER_UPGRADE)
    try:
        yield document
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory):
    cluster, document = cluster_with_packages(tmp_path_factory.mktemp("stuck"), nets.HANDOVER_STUCK, STUCK_WAIT)
    try:
        yield document
    finally:
        cluster.__exit__(None, None, None)


def start_upgrade(cluster: dict) -> tuple:
    api = client_for(cluster["agents"][1], PASSWORD)
    dag = api.request("POST", UPGRADE, body(NEW))
    return api, dag["id"]


def final_report(api) -> dict:
    """The probe saves its last figures within a second of the DAG's end."""
    return wait_for(lambda: (r := api.request("GET", PROBE)) and not r["running"] and r, 20, "the final probe report")


def probe_sample_times_us(report: dict) -> list[int]:
    """The probe's samples as the report keeps them: one moment per second that had samples."""
    return [int(second["at"] * 1_000_000) + 500_000 for second in report["per_second"]]


def test_rolling_upgrade_kills_no_leader_and_clients_see_no_error(healthy: dict) -> None:
    api, gid = start_upgrade(healthy)
    dag = wait_finished(api, gid)
    assert dag["state"] == "SUCCEED", outline(dag)
    assert dag["max_stage"] == 26
    assert cluster_versions(healthy["observers"][0], PASSWORD)[0] == {NEW}

    events = read_history(healthy["dir"] / "state")
    kills = [event for event in events if event.kind == "kill"]
    assert {event.zone for event in kills} == {"zone1", "zone2", "zone3"}
    for kill in kills:  # no observer was killed while it led
        assert kill.server not in leaders_at(events, kill.at_us).values(), (kill, leaders_at(events, kill.at_us))
    assert not [e for e in events if e.kind == "leader" and e.info == "lease expired"]  # nothing waited for a lease
    for stop in (e for e in events if e.kind == "stop_zone"):  # the zone's leaders left before its kill
        kill = next(k for k in kills if k.zone == stop.info and k.at_us > stop.at_us)
        moved = [e for e in events if e.kind == "leader" and stop.at_us < e.at_us < kill.at_us]
        assert all(e.zone != stop.info for e in moved)

    report = final_report(api)
    assert report["dag_id"] == dag["dag_id"]
    assert report["total"]["samples"] > 40 and report["total"]["errors"] == 0, report["recent_errors"]
    assert report["total"]["success_pct"] == 100.0
    assert {zone["zone"] for zone in report["zones"]} == {"zone1", "zone2", "zone3"}
    stages = {stage["name"] for stage in report["stages"]}
    # The probe learns the stage once a second: a Stop zone of half a second may pass unseen,
    # the restarts of a zone (seconds) never do.
    assert len(stages) >= 5 and any(name.startswith(("Stop zone", "Reinstall")) for name in stages), stages
    for at_us in probe_sample_times_us(report):  # at every probed second, every leader was alive
        dead = {k.server for k in kills if k.at_us <= at_us} - {
            e.server for e in events if e.kind == "start" and e.at_us <= at_us and
            any(k.server == e.server and k.at_us < e.at_us for k in kills)}
        assert not dead & set(leaders_at(events, at_us).values())
    assert api.request("GET", f"/api/v1/task/dag/{gid}")["additional_data"]["sqlProbe"]["total"] == report["total"]


def test_a_stuck_leader_stops_the_upgrade_at_its_zone_and_retry_finishes(stuck: dict) -> None:
    zone2 = stuck["observers"][1]
    zone2_server = f"{zone2['ip']}:{zone2['rpc_port']}"
    slow = stuck["observers"][2]
    pid_before = observer_pid(zone2)
    set_fault(stuck["dir"], "leaders_stuck", zone2_server)
    set_fault(stuck["dir"], "slow_sql", f"{slow['ip']}:{slow['rpc_port']}", str(SLOW_MS))
    api, gid = start_upgrade(stuck)
    dag = wait_finished(api, gid)
    assert dag["state"] == "FAILED"
    node = failed_node(dag)
    assert node["name"] == "Stop zone2", outline(dag)
    message = "\n".join(node_logs(dag, "Stop zone2"))
    assert f"still led from zone2: tenant 1002 (tenant1) LS 1001 on {zone2_server}" in message or \
        f"on {zone2_server}" in message, message
    assert "No observer was killed" in message and "RETRY" in message
    assert observer_pid(zone2) == pid_before
    builds = {o["zone"]: b for o, b in zip(stuck["observers"], zone_builds(stuck))}
    assert builds["zone1"] == NEW and builds["zone2"] == OLD_VERSION

    report = final_report(api)  # the slow observer shows, in the API …
    slow_zone = next(zone for zone in report["zones"] if zone["zone"] == "zone3")
    assert slow_zone["p99_ms"] >= SLOW_MS and report["total"]["p99_ms"] >= SLOW_MS
    watched = run_cli("task", "watch", gid, "--agent", f"{stuck['agents'][0]['ip']}:{stuck['agents'][0]['port']}",
                      check=False, env={**os.environ, "OB_ROOT_PASSWORD": PASSWORD})
    assert "What clients saw (SQL probe" in watched.stdout, watched.stdout + watched.stderr  # … and the CLI
    zone3_line = next(line for line in watched.stdout.splitlines() if line.strip().startswith("zone3:"))
    assert int(zone3_line.split("p99 ")[1].split(" ms")[0]) >= SLOW_MS

    clear_fault(stuck["dir"])
    retry(api, gid)
    dag = wait_finished(api, gid)
    assert dag["state"] == "SUCCEED", outline(dag)
    assert cluster_versions(stuck["observers"][0], PASSWORD)[0] == {NEW}


def zone_builds(cluster: dict) -> list[str]:
    from tests.helpers.sim import connect, query

    with connect(cluster["observers"][0], PASSWORD) as conn:
        rows = dict(query(conn, "SELECT SVR_IP, BUILD_VERSION FROM DBA_OB_SERVERS"))
    return [rows[o["ip"]].split("_")[0] for o in cluster["observers"]]
