"""The simulated observer answers like OceanBase 4.2 where tools other than the upgrade scripts
look: each statement goes through PyMySQL and mysql.connector, and the answer is OceanBase's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import nets
from tests.helpers.drivers import DRIVERS, Answer, ask, login_error, session
from tests.helpers.sim import kill_observer, sim_cluster, start_observer, wait_for

pytestmark = pytest.mark.multiprocess
PASSWORD = "rootpw"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    directory = tmp_path_factory.mktemp("sim") / "c"
    with sim_cluster(directory, net=nets.SIM_FIDELITY, password=PASSWORD) as document:
        yield document


def answers(cluster: dict, sql: str, database: str | None = "oceanbase") -> dict[str, Answer]:
    """The answer to ``sql`` through each driver."""
    result = {}
    for driver in DRIVERS:
        with session(driver, cluster["observers"][0], PASSWORD, database) as conn:
            result[driver] = ask(conn, sql)
    return result


def rows(cluster: dict, sql: str) -> tuple[tuple, ...]:
    """The rows of ``sql``, the same through both drivers."""
    seen = answers(cluster, sql)
    assert all(answer.code is None for answer in seen.values()), seen
    assert seen["pymysql"].rows == seen["mysql.connector"].rows, seen
    return seen["pymysql"].rows


def test_dual_exists(cluster: dict) -> None:
    assert rows(cluster, "select 1 from dual") == ((1,),)
    assert rows(cluster, "SELECT 1 FROM DUAL WHERE 1 = 1") == ((1,),)
    for answer in answers(cluster, "select time_to_usec(now(6)) from dual").values():
        (now_us,), = answer.rows
        assert isinstance(now_us, int) and now_us > 1_600_000_000_000_000


def test_default_collation_ignores_case(cluster: dict) -> None:
    assert rows(cluster, "select 'a'='A'") == ((1,),)
    assert rows(cluster, "select 'a' = 'b'") == ((0,),)
    assert rows(cluster, "select ZONE from oceanbase.DBA_OB_ZONES where zone='ZONE1'") == (("zone1",),)
    assert rows(cluster, "select count(*) from oceanbase.__all_server where status = 'ACTIVE'") == ((3,),)
    assert rows(cluster, "select count(*) from oceanbase.DBA_OB_SERVERS where STATUS in ('active')") == ((3,),)
    assert rows(cluster, "select 'a' = 'A' collate utf8mb4_bin") == ((0,),)  # a binary collation still compares bytes
    with session("pymysql", cluster["observers"][0], PASSWORD, None) as conn:
        ask(conn, "create database if not exists fidelity")
        ask(conn, "create table if not exists fidelity.names (id int primary key, name varchar(32), "
                  "token varchar(32) collate utf8mb4_bin)")
        ask(conn, "insert into fidelity.names values (1, 'Zone1', 'Zone1')")
    for answer in answers(cluster, "select count(*) from fidelity.names where name = 'ZONE1'", None).values():
        assert answer.rows == ((1,),)
    for answer in answers(cluster, "select count(*) from fidelity.names where token = 'ZONE1'", None).values():
        assert answer.rows == ((0,),)


def test_column_labels_are_the_expressions_as_typed(cluster: dict) -> None:
    sql = "select version(), database(), time_to_usec(now(6)), count(*), ZONE, 'a'='A', 1 + 1 as two from DBA_OB_ZONES"
    for driver, answer in answers(cluster, sql).items():
        assert answer.labels == ("version()", "database()", "time_to_usec(now(6))", "count(*)", "ZONE", "'a'='A'",
                                 "two"), driver
        assert answer.rows[0][1] == "oceanbase" and answer.rows[0][3] == 3
    for answer in answers(cluster, "select zone, Status from oceanbase.DBA_OB_ZONES where zone = 'zone1'").values():
        assert answer.labels == ("zone", "Status") and answer.rows == (("zone1", "ACTIVE"),)


def test_all_server_status_is_lower_case(cluster: dict) -> None:
    assert rows(cluster, "select status from oceanbase.__all_server") == (("active",),) * 3
    assert rows(cluster, "select STATUS from oceanbase.DBA_OB_SERVERS") == (("ACTIVE",),) * 3


def test_catalog_describes_the_system_views(cluster: dict) -> None:
    assert ("oceanbase",) in rows(cluster, "show databases")
    described = {row[0] for row in rows(cluster, "desc oceanbase.__all_server")}
    assert {"svr_ip", "svr_port", "zone", "status", "build_version", "with_rootserver"} <= described
    assert rows(cluster, "show tables from oceanbase like '__all_server'") == (("__all_server",),)
    listed = {row[0] for row in rows(cluster, "select table_name from information_schema.tables "
                                              "where table_schema = 'oceanbase'")}
    assert {"DBA_OB_SERVERS", "GV$OB_PARAMETERS", "__all_server", "DBA_OB_UNITS"} <= listed
    columns = rows(cluster, "select column_name from information_schema.columns "
                            "where table_schema = 'oceanbase' and table_name = 'DBA_OB_ZONES'")
    assert [c[0] for c in columns] == ["ZONE", "CREATE_TIME", "MODIFY_TIME", "STATUS", "IDC", "REGION", "TYPE"]


def test_tenant_info_has_switchover_status(cluster: dict) -> None:
    assert set(rows(cluster, "select switchover_status from oceanbase.__all_virtual_tenant_info")) == {("NORMAL",)}
    assert rows(cluster, "select tenant_role, switchover_status from oceanbase.__all_virtual_tenant_info "
                         "where tenant_id = 1") == (("PRIMARY", "NORMAL"),)


def test_zone_commands_write_the_rootservice_event_history(cluster: dict) -> None:
    with session("pymysql", cluster["observers"][0], PASSWORD) as conn:
        assert ask(conn, "ALTER SYSTEM STOP ZONE 'zone3'").code is None
        assert ask(conn, "ALTER SYSTEM START ZONE 'zone3'").code is None
        assert ask(conn, "ALTER SYSTEM START ZONE 'zone3'").code == 4633  # already active: logged with its ret
    events = rows(cluster, "select MODULE, EVENT, NAME1, VALUE1, NAME2, VALUE2 from DBA_OB_ROOTSERVICE_EVENT_HISTORY "
                           "where EVENT in ('stop_zone', 'start_zone') order by TIMESTAMP")
    assert events == (
        ("zone", "stop_zone", "zone", "zone3", "", ""),
        ("root_service", "stop_zone", "ret", "0", "sql_text", "ALTER SYSTEM STOP ZONE 'zone3'"),
        ("zone", "start_zone", "zone", "zone3", "", ""),
        ("root_service", "start_zone", "ret", "0", "sql_text", "ALTER SYSTEM START ZONE 'zone3'"),
        ("root_service", "start_zone", "ret", "-4633", "sql_text", "ALTER SYSTEM START ZONE 'zone3'"),
    )
    rs_ip = rows(cluster, "select SVR_IP from DBA_OB_SERVERS where WITH_ROOTSERVER = 'YES'")
    assert set(rows(cluster, "select RS_SVR_IP from DBA_OB_ROOTSERVICE_EVENT_HISTORY where EVENT = 'stop_zone'")) == set(rs_ip)


def test_units_view_lists_each_tenant_unit(cluster: dict) -> None:
    units = rows(cluster, "select TENANT_ID, ZONE, SVR_IP, STATUS from DBA_OB_UNITS order by TENANT_ID, ZONE")
    servers = {o["zone"]: o["ip"] for o in cluster["observers"]}
    assert units == tuple((tenant, zone, servers[zone], "ACTIVE") for tenant in (1, 1002) for zone in sorted(servers))


def test_wrong_password_gets_mysqls_message(cluster: dict) -> None:
    for driver in DRIVERS:
        refused = login_error(driver, cluster["observers"][0], "not-the-password")
        assert (refused.code, refused.message) == (1045, "Access denied for user 'root'@'127.0.0.1' (using password: YES)")


def test_parameter_views_list_only_live_servers(cluster: dict) -> None:
    victim = cluster["observers"][2]
    everyone = {o["ip"] for o in cluster["observers"]}
    views = ("GV$OB_PARAMETERS", "__all_virtual_tenant_parameter_info")
    for view in views:
        assert {r[0] for r in rows(cluster, f"select distinct svr_ip from oceanbase.{view}")} == everyone
    kill_observer(victim)
    try:
        wait_for(lambda: rows(cluster, f"select STATUS from DBA_OB_SERVERS where SVR_IP = '{victim['ip']}'")
                 == (("INACTIVE",),), 15, "the killed observer INACTIVE")
        for view in views:
            assert {r[0] for r in rows(cluster, f"select distinct svr_ip from oceanbase.{view}")} == everyone - {victim["ip"]}
    finally:
        start_observer(victim)
        wait_for(lambda: rows(cluster, "select count(*) from DBA_OB_SERVERS where STATUS = 'ACTIVE' "
                                       "and START_SERVICE_TIME is not null") == ((3,),), 20, "every observer back")
