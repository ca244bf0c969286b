"""``GET /api/v1/ob/info``'s overview: each server's build, whether it is in service, and how many
log stream leaders it holds (what the console's cluster page shows)."""

from __future__ import annotations

from pyobshell.cluster.overview import read_overview
from pyobshell.errors import MYSQL_ERROR

SERVERS = [
    {"SVR_IP": "10.0.0.1", "SVR_PORT": 2882, "SQL_PORT": 2881, "ZONE": "zone1", "WITH_ROOTSERVER": "YES",
     "STATUS": "ACTIVE", "BUILD_VERSION": "4.2.1.1_101000062023110109", "START_SERVICE_TIME": 1, "STOP_TIME": None},
    {"SVR_IP": "10.0.0.2", "SVR_PORT": 2882, "SQL_PORT": 2881, "ZONE": "zone2", "WITH_ROOTSERVER": "NO",
     "STATUS": "ACTIVE", "BUILD_VERSION": "4.2.1.0_100000012023101010", "START_SERVICE_TIME": 1, "STOP_TIME": 2},
    {"SVR_IP": "10.0.0.3", "SVR_PORT": 2882, "SQL_PORT": 2881, "ZONE": "zone3", "WITH_ROOTSERVER": "NO",
     "STATUS": "INACTIVE", "BUILD_VERSION": "4.2.1.0_100000012023101010", "START_SERVICE_TIME": None,
     "STOP_TIME": None},
]


def leader(tenant: int, ls: int, ip: str) -> dict:
    return {"TENANT_ID": tenant, "TENANT_NAME": "sys", "LS_ID": ls, "SVR_IP": ip, "SVR_PORT": 2882, "ZONE": "z"}


class FakeSql:
    def __init__(self, leaders: list[dict] | Exception):
        self.leaders = leaders

    def query(self, statement: str, args=None) -> list[dict]:
        if "CDB_OB_LS_LOCATIONS" in statement:
            if isinstance(self.leaders, Exception):
                raise self.leaders
            return self.leaders
        if "DBA_OB_SERVERS" in statement:
            return SERVERS
        if "DBA_OB_ZONES" in statement:
            return [{"ZONE": z, "STATUS": "ACTIVE"} for z in ("zone1", "zone2", "zone3")]
        return []

    def execute(self, statement: str, args=None) -> int:
        raise AssertionError("the overview only reads")


def servers_of(info) -> dict[str, tuple]:
    return {s.svr_ip: (s.in_service, s.leader_count) for zone in info.obcluster_info.topology.values() for s in zone}


def test_each_server_says_whether_it_serves_and_how_many_leaders_it_holds() -> None:
    sql = FakeSql([leader(1, 1, "10.0.0.1"), leader(1001, 1, "10.0.0.1"), leader(1002, 1001, "10.0.0.2")])
    info = read_overview(sql)
    assert servers_of(info) == {"10.0.0.1": (True, 2), "10.0.0.2": (False, 1), "10.0.0.3": (False, 0)}
    assert info.obcluster_info.version == "4.2.1.0-100000012023101010"  # the lowest build


def test_unreadable_leaders_leave_the_counts_out_not_the_overview() -> None:
    for failure in (MYSQL_ERROR("1146: no such view"), None):
        sql = FakeSql(failure if failure is not None else [{**leader(1, 1, "10.0.0.1"), "LS_ID": None}])
        assert {counts for _, counts in servers_of(read_overview(sql)).values()} == {None}
