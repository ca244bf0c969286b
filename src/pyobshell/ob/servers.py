"""The cluster's observers as ``DBA_OB_SERVERS`` and ``GV$OB_LOG_STAT`` describe them."""

from __future__ import annotations

from pyobshell.ob.sql import Row, Sql, count

_OVERVIEW = ("SELECT SVR_IP, SVR_PORT, SQL_PORT, ZONE, WITH_ROOTSERVER, STATUS, BUILD_VERSION, "
             "START_SERVICE_TIME, STOP_TIME FROM oceanbase.DBA_OB_SERVERS ORDER BY ZONE, SVR_IP, SVR_PORT")


def servers(sql: Sql) -> list[Row]:
    """Every server: SVR_IP, SVR_PORT, SQL_PORT, ZONE, WITH_ROOTSERVER, STATUS, BUILD_VERSION,
    START_SERVICE_TIME, STOP_TIME."""
    return sql.query(_OVERVIEW)


def in_service(row: Row) -> bool:
    """A row of :func:`servers`: ACTIVE, started its service and not stopped."""
    return (str(row["STATUS"]).upper() == "ACTIVE" and row["START_SERVICE_TIME"] is not None
            and row["STOP_TIME"] is None)


def build_by_sql_address(sql: Sql, ip: str, sql_port: int) -> str | None:
    """The build of the observer serving SQL on ``ip:sql_port``."""
    rows = sql.query("SELECT BUILD_VERSION FROM oceanbase.DBA_OB_SERVERS WHERE SVR_IP = %s AND SQL_PORT = %s",
                     (ip, sql_port))
    return str(rows[0]["BUILD_VERSION"]) if rows else None


def build_by_server(sql: Sql, ip: str, rpc_port: int) -> str | None:
    """The build of server ``ip:rpc_port`` (how OceanBase names a server)."""
    rows = sql.query("SELECT BUILD_VERSION FROM oceanbase.DBA_OB_SERVERS WHERE SVR_IP = %s AND SVR_PORT = %s",
                     (ip, rpc_port))
    return str(rows[0]["BUILD_VERSION"]) if rows else None


def builds(sql: Sql) -> dict[str, str]:
    """SVR_IP -> the version its build starts with (``4.2.1.1_1010…`` -> ``4.2.1.1``)."""
    rows = sql.query("SELECT SVR_IP, BUILD_VERSION FROM oceanbase.DBA_OB_SERVERS")
    return {str(row["SVR_IP"]): str(row["BUILD_VERSION"]).split("_")[0] for row in rows}


def not_serving(sql: Sql) -> list[str]:
    """Servers not ACTIVE, stopped, or not yet in service, each as ``ip:port (what is wrong)``."""
    rows = sql.query("SELECT SVR_IP, SVR_PORT, STATUS, STOP_TIME, START_SERVICE_TIME FROM oceanbase.DBA_OB_SERVERS "
                     "WHERE STATUS != 'ACTIVE' OR STOP_TIME IS NOT NULL OR START_SERVICE_TIME IS NULL "
                     "ORDER BY SVR_IP, SVR_PORT")
    return [f"{row['SVR_IP']}:{row['SVR_PORT']} ({_why_not_serving(row)})" for row in rows]


def _why_not_serving(row: Row) -> str:
    if str(row["STATUS"]).upper() != "ACTIVE":
        return str(row["STATUS"])
    return "stopped" if row["STOP_TIME"] is not None else "not in service yet"


def out_of_sync_count(sql: Sql) -> int:
    """Log stream replicas not in sync with their leader."""
    return count(sql, "SELECT count(*) AS n FROM oceanbase.GV$OB_LOG_STAT WHERE in_sync = 'NO'")


def active_servers(sql: Sql, zones: list[str] | None = None) -> list[str]:
    """``ip:rpc_port`` of the ACTIVE servers (of ``zones`` only, when given)."""
    rows = sql.query("SELECT SVR_IP, SVR_PORT, ZONE, STATUS FROM oceanbase.DBA_OB_SERVERS")
    return [f"{r['SVR_IP']}:{int(r['SVR_PORT'])}" for r in rows
            if str(r["STATUS"]).upper() == "ACTIVE" and (not zones or r["ZONE"] in zones)]


def server_zones(sql: Sql) -> list[tuple[str, str]]:
    """(SVR_IP, ZONE) of every server."""
    return [(str(r["SVR_IP"]), str(r["ZONE"])) for r in sql.query("SELECT SVR_IP, ZONE FROM oceanbase.DBA_OB_SERVERS")]


def inactive_servers(sql: Sql, zones: list[str] | None = None) -> list[str]:
    """``ip:rpc_port (zone, STATUS)`` of the servers not ACTIVE (of ``zones`` only, when given)."""
    rows = sql.query("SELECT SVR_IP, SVR_PORT, ZONE, STATUS FROM oceanbase.DBA_OB_SERVERS")
    return [f"{r['SVR_IP']}:{int(r['SVR_PORT'])} ({r['ZONE']}, {r['STATUS']})" for r in rows
            if str(r["STATUS"]).upper() != "ACTIVE" and (not zones or r["ZONE"] in zones)]
