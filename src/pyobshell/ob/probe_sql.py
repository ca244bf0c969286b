"""The live SQL probe's statements: where it may send them, and its read and write.

The probe keeps one row per zone in a table of its own in the agents' database ``ocs``; each
sample reads and updates that row through one observer of the zone, as an application
behind OBProxy would. Observers of a stopped zone, or not in service, are never probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyobshell.errors import ObshellError
from pyobshell.ob.sql import Sql

PROBE_TABLE = "ocs.pyobshell_sql_probe"
_TARGETS = ("SELECT s.SVR_IP, s.SQL_PORT, s.ZONE FROM oceanbase.DBA_OB_SERVERS s "
            "JOIN oceanbase.DBA_OB_ZONES z ON z.ZONE = s.ZONE "
            "WHERE z.STATUS = 'ACTIVE' AND s.STATUS = 'ACTIVE' AND s.STOP_TIME IS NULL "
            "AND s.START_SERVICE_TIME IS NOT NULL ORDER BY s.ZONE, s.SVR_IP, s.SQL_PORT")


@dataclass(frozen=True)
class ProbeTarget:
    zone: str
    ip: str
    sql_port: int

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.sql_port}"


def probe_targets(sql: Sql) -> list[ProbeTarget]:
    """One serving observer of every ACTIVE zone (the first by address)."""
    targets: dict[str, ProbeTarget] = {}
    for row in sql.query(_TARGETS):
        zone, ip, port = row.get("ZONE"), row.get("SVR_IP"), row.get("SQL_PORT")
        if isinstance(zone, str) and isinstance(ip, str) and isinstance(port, int) and zone not in targets:
            targets[zone] = ProbeTarget(zone, ip, port)
    return list(targets.values())


def create_probe_table(sql: Sql) -> None:
    sql.execute(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (zone VARCHAR(128) NOT NULL, counter BIGINT NOT NULL, "
                "gmt_modify BIGINT NOT NULL, PRIMARY KEY (zone))")


def write_probe(sql: Sql, zone: str, counter: int, now_us: int) -> None:
    """Update the zone's row (insert it the first time)."""
    if sql.execute(f"UPDATE {PROBE_TABLE} SET counter = %s, gmt_modify = %s WHERE zone = %s",
                   (counter, now_us, zone)) == 0:
        try:
            sql.execute(f"INSERT INTO {PROBE_TABLE} (zone, counter, gmt_modify) VALUES (%s, %s, %s)",
                        (zone, counter, now_us))
        except ObshellError as exc:
            if "Duplicate" not in exc.message and "1062" not in exc.message:
                raise


def read_probe(sql: Sql, zone: str) -> int | None:
    rows = sql.query(f"SELECT counter FROM {PROBE_TABLE} WHERE zone = %s", (zone,))
    return int(rows[0]["counter"]) if rows else None
