"""Log streams and leaders in the simulated cluster: the views, STOP ZONE handing leaders over,
a killed leader re-elected after the lease, SWITCH REPLICA LEADER, the faults, the history."""

from __future__ import annotations

import time
from pathlib import Path

import pymysql
import pytest

from pyobshell.sim.faults import clear_fault, set_fault
from pyobshell.sim.log_streams import leaders_at, read_history
from tests.helpers import nets
from tests.helpers.sim import connect, kill_observer, query, sim_cluster, start_observer, wait_for

pytestmark = pytest.mark.multiprocess
PASSWORD = "rootpw"
LEADERS = "SELECT TENANT_ID, LS_ID, SVR_IP, ZONE FROM CDB_OB_LS_LOCATIONS WHERE ROLE = 'LEADER' ORDER BY TENANT_ID, LS_ID"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("ls") / "c"
    with sim_cluster(directory, net=nets.SIM_LOG_STREAMS, password=PASSWORD) as document:
        document["dir"] = directory
        yield document


def leaders(observer: dict) -> list[tuple]:
    with connect(observer, PASSWORD) as conn:
        return query(conn, LEADERS)


def zone_leads(observer: dict, zone: str) -> list[tuple]:
    return [row for row in leaders(observer) if row[3] == zone]


def rootservice_zone(observer: dict) -> str:
    with connect(observer, PASSWORD) as conn:
        return query(conn, "SELECT ZONE FROM DBA_OB_SERVERS WHERE WITH_ROOTSERVER = 'YES'")[0][0]


def test_every_log_stream_has_one_leader_and_every_zone_leads(cluster: dict) -> None:
    with connect(cluster["observers"][1], PASSWORD) as conn:
        stat = query(conn, "SELECT TENANT_ID, LS_ID, ROLE FROM GV$OB_LOG_STAT")
        locations = query(conn, LEADERS)
        sys_only = query(conn, "SELECT DISTINCT LS_ID FROM DBA_OB_LS_LOCATIONS")
        ls = query(conn, "SELECT LS_ID, STATUS FROM DBA_OB_LS")
        rs = query(conn, "SELECT SVR_IP FROM DBA_OB_SERVERS WHERE WITH_ROOTSERVER = 'YES'")
    streams = {(t, l) for t, l, _ in stat}
    assert {(1, 1), (1001, 1), (1002, 1), (1002, 1001)} <= streams
    for stream in streams:
        assert [role for t, l, role in stat if (t, l) == stream].count("LEADER") == 1
    assert {(t, l) for t, l, _, _ in locations} == streams
    assert {zone for *_, zone in locations} == {"zone1", "zone2", "zone3"}
    assert sys_only == [(1,)] and ls == [(1, "NORMAL")]
    assert rs == [(next(ip for t, l, ip, _ in locations if (t, l) == (1, 1)),)]  # RS: the sys LS 1 leader


def test_stop_zone_hands_leaders_and_root_service_over(cluster: dict) -> None:
    observer = cluster["observers"][2]
    assert zone_leads(observer, "zone1") and rootservice_zone(observer) == "zone1"
    with connect(observer, PASSWORD) as conn:
        query(conn, "ALTER SYSTEM STOP ZONE 'zone1'")
    try:
        wait_for(lambda: not zone_leads(observer, "zone1"), 10, "zone1 to lead nothing")
        assert rootservice_zone(observer) != "zone1"
        time.sleep(0.5)  # none comes back while the zone is stopped
        assert not zone_leads(observer, "zone1")
    finally:
        with connect(observer, PASSWORD) as conn:
            query(conn, "ALTER SYSTEM START ZONE 'zone1'")
    events = read_history(cluster["dir"] / "state")
    stop = next(e for e in events if e.kind == "stop_zone" and e.info == "zone1")
    moves = [e for e in events if e.kind == "leader" and e.at_us > stop.at_us]
    assert moves and all(e.zone != "zone1" and e.info == "zone zone1 stopped" for e in moves)
    assert min(e.at_us for e in moves) - stop.at_us >= 250_000  # the fast profile's switch delay


def test_switch_replica_leader(cluster: dict) -> None:
    observer = cluster["observers"][0]
    target = cluster["observers"][0]
    with connect(observer, PASSWORD) as conn:
        query(conn, f"ALTER SYSTEM SWITCH REPLICA LEADER LS = 1001 SERVER = '{target['ip']}:{target['rpc_port']}' TENANT = 'tenant1'")
        for statement, code in [
            ("ALTER SYSTEM SWITCH REPLICA LEADER LS=1001 SERVER='10.0.0.1:2882' TENANT='tenant1'", 4018),
            (f"ALTER SYSTEM SWITCH REPLICA LEADER LS=77 SERVER='{target['ip']}:2882' TENANT='tenant1'", 4018),
            (f"ALTER SYSTEM SWITCH REPLICA LEADER LS=1 SERVER='{target['ip']}:2882' TENANT='nobody'", 5157),
        ]:
            with pytest.raises(pymysql.MySQLError) as refused:
                query(conn, statement)
            assert refused.value.args[0] == code, statement
    wait_for(lambda: (1002, 1001, target["ip"], "zone1") in leaders(observer), 10, "LS 1001 to move to zone1")


def test_leaders_stuck_holds_them_until_cleared(cluster: dict) -> None:
    zone2 = cluster["observers"][1]
    server = f"{zone2['ip']}:{zone2['rpc_port']}"
    observer = cluster["observers"][0]
    with connect(observer, PASSWORD) as conn:
        query(conn, f"ALTER SYSTEM SWITCH REPLICA LEADER LS = 1 SERVER = '{server}' TENANT = 'tenant1'")
    wait_for(lambda: zone_leads(observer, "zone2"), 10, "zone2 to lead")
    set_fault(cluster["dir"], "leaders_stuck", server)
    with connect(observer, PASSWORD) as conn:
        query(conn, "ALTER SYSTEM STOP ZONE 'zone2'")
    try:
        time.sleep(1.0)
        stuck = zone_leads(observer, "zone2")
        assert stuck
        clear_fault(cluster["dir"], "leaders_stuck", server)
        wait_for(lambda: not zone_leads(observer, "zone2"), 10, "zone2's leaders to move once unstuck")
    finally:
        with connect(observer, PASSWORD) as conn:
            query(conn, "ALTER SYSTEM START ZONE 'zone2'")


def test_a_killed_leader_is_replaced_after_the_lease(cluster: dict) -> None:
    observer = cluster["observers"][2]
    victim = cluster["observers"][0]
    with connect(observer, PASSWORD) as conn:
        query(conn, f"ALTER SYSTEM SWITCH REPLICA LEADER LS = 1 SERVER = '{victim['ip']}:{victim['rpc_port']}' TENANT = 'sys'")
    wait_for(lambda: rootservice_zone(observer) == "zone1", 10, "the root service on zone1")
    kill_observer(victim)
    try:
        wait_for(lambda: rootservice_zone(observer) != "zone1", 10, "the root service to move after the lease")
        assert not zone_leads(observer, "zone1")
    finally:
        start_observer(victim)
    events = read_history(cluster["dir"] / "state")
    kill = next(e for e in reversed(events) if e.kind == "kill")
    assert kill.zone == "zone1"
    moved = [e for e in events if e.kind == "leader" and e.from_server == kill.server and e.at_us > kill.at_us]
    assert moved and all(e.info == "lease expired" for e in moved)
    assert all(leader != kill.server for leader in leaders_at(events, moved[-1].at_us).values())


def test_slow_sql_delays_one_observer(cluster: dict) -> None:
    slow = cluster["observers"][1]
    set_fault(cluster["dir"], "slow_sql", f"{slow['ip']}:{slow['rpc_port']}", "150")
    try:
        time.sleep(0.3)
        with connect(slow, PASSWORD) as conn:
            started = time.monotonic()
            query(conn, "SELECT 1")
            slow_s = time.monotonic() - started
        assert slow_s >= 0.15
    finally:
        clear_fault(cluster["dir"])
