"""Stop zone waits until the zone has handed its leaders and the root service over, against a
scripted observer: the wait, the timeout naming what is stuck, a retry, and rows it cannot trust."""

from __future__ import annotations

import pytest
from tests.upgrade.tasks.task_fakes import FakeObserver, run_task, sql_error

from pyobshell.errors import ObshellError
from pyobshell.ob.leaders import LeaderViewError, parse_leader
from pyobshell.upgrade.handover import handover_of, stuck_message
from pyobshell.upgrade.tasks import StopZoneTask

LOCATIONS = "CDB_OB_LS_LOCATIONS"
ROOT_SERVICE = "WITH_ROOTSERVER"


def leader(tenant: int, ls: int, ip: str, zone: str, name: str = "tenant1") -> dict:
    return {"TENANT_ID": tenant, "TENANT_NAME": name, "LS_ID": ls, "SVR_IP": ip, "SVR_PORT": 2882, "ZONE": zone}


IN_ZONE2 = [leader(1, 1, "10.0.0.2", "zone2", "sys"), leader(1002, 1001, "10.0.0.2", "zone2"),
            leader(1002, 1, "10.0.0.1", "zone1")]
MOVED = [leader(1, 1, "10.0.0.3", "zone3", "sys"), leader(1002, 1001, "10.0.0.1", "zone1"),
         leader(1002, 1, "10.0.0.1", "zone1")]
RS_ZONE2 = [{"SVR_IP": "10.0.0.2", "SVR_PORT": 2882, "ZONE": "zone2"}]
RS_ZONE3 = [{"SVR_IP": "10.0.0.3", "SVR_PORT": 2882, "ZONE": "zone3"}]


def stopped(observer: FakeObserver) -> FakeObserver:
    return observer.on("DBA_OB_ZONES", [{"STATUS": "INACTIVE"}])


def test_waits_until_the_zone_leads_nothing(make_env, observer: FakeObserver) -> None:
    make_env()
    stopped(observer).on(LOCATIONS, IN_ZONE2, IN_ZONE2, MOVED).on(ROOT_SERVICE, RS_ZONE2, RS_ZONE2, RS_ZONE3)
    ran = run_task(StopZoneTask(name="Stop zone2"), {"zone": "zone2"})
    assert len([s for s in observer.statements if LOCATIONS in s]) == 3
    assert ran.logs[-1].startswith("zone2 leads none of 3 log streams and holds no root service after ")


def test_timeout_names_every_stuck_log_stream_and_kills_nothing(make_env, observer: FakeObserver) -> None:
    make_env()
    stopped(observer).on(LOCATIONS, IN_ZONE2).on(ROOT_SERVICE, RS_ZONE2)
    with pytest.raises(ObshellError) as stuck:
        run_task(StopZoneTask(name="Stop zone2"), {"zone": "zone2"})
    message = stuck.value.message
    assert stuck.value.code == "OB.Zone.LeadersNotDrained"
    assert "2 log stream(s) still led from zone2: tenant 1 (sys) LS 1 on 10.0.0.2:2882, " \
           "tenant 1002 (tenant1) LS 1001 on 10.0.0.2:2882" in message
    assert "root service on 10.0.0.2:2882" in message and "No observer was killed" in message
    assert "SWITCH REPLICA LEADER LS = 1 SERVER = '<ip:port of an ACTIVE zone>' TENANT = 'sys'" in message
    assert "RETRY" in message


def test_a_retry_on_a_stopped_zone_waits_again(make_env, observer: FakeObserver) -> None:
    make_env()
    observer.on("STOP ZONE", sql_error(4179, "Operation not allowed now"))
    stopped(observer).on(LOCATIONS, IN_ZONE2, MOVED).on(ROOT_SERVICE, RS_ZONE3)
    ran = run_task(StopZoneTask(name="Stop zone2"), {"zone": "zone2"}, is_continue=True)
    assert "zone2 is already INACTIVE" in ran.log_text()
    assert "zone2 leads none of 3 log streams" in ran.logs[-1]


@pytest.mark.parametrize("bad", [
    {**IN_ZONE2[0], "SVR_IP": None},
    {**IN_ZONE2[0], "LS_ID": None},
    {**IN_ZONE2[0], "LS_ID": "one"},
    {**IN_ZONE2[0], "ZONE": ""},
    {"TENANT_ID": 1},
])
def test_rows_it_cannot_trust_fail_the_node_at_once(make_env, observer: FakeObserver, bad: dict) -> None:
    make_env()
    stopped(observer).on(LOCATIONS, [bad]).on(ROOT_SERVICE, RS_ZONE3)
    with pytest.raises(ObshellError) as refused:
        run_task(StopZoneTask(name="Stop zone2"), {"zone": "zone2"})
    assert refused.value.code == "OB.View.UnexpectedRows"
    assert "cannot tell whether zone2 still leads log streams: CDB_OB_LS_LOCATIONS answered" in refused.value.message
    assert len([s for s in observer.statements if LOCATIONS in s]) == 1  # no waiting on bad rows


def test_a_root_service_row_with_nulls_is_refused_too(make_env, observer: FakeObserver) -> None:
    make_env()
    stopped(observer).on(LOCATIONS, MOVED).on(ROOT_SERVICE, [{"SVR_IP": "10.0.0.3", "SVR_PORT": None, "ZONE": "zone3"}])
    with pytest.raises(ObshellError) as refused:
        run_task(StopZoneTask(), {"zone": "zone2"})
    assert "DBA_OB_SERVERS answered SVR_PORT=None" in refused.value.message


def test_handover_summary_and_message_are_pure() -> None:
    rows = [parse_leader(row) for row in IN_ZONE2 * 15]  # 30 rows, 20 named
    state = handover_of("zone2", rows, [])
    assert not state.done and state.summary().count(" on 10.0.0.2") == 20
    assert state.summary().startswith("30 log stream(s) still led from zone2") and state.summary().endswith(" and 10 more")
    assert "within 600 s" in stuck_message(state, 600)
    with pytest.raises(LeaderViewError):
        parse_leader({**IN_ZONE2[0], "SVR_PORT": True})
