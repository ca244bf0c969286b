"""The cluster's zones (``DBA_OB_ZONES``) and stopping or starting one."""

from __future__ import annotations

import re

from pyobshell.ob.sql import Sql, column, count

_ZONE_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")


def is_zone_name(name: str) -> bool:
    return bool(_ZONE_NAME.match(name))


def zone_names(sql: Sql) -> list[str]:
    """In ``DBA_OB_ZONES`` order: the order a rolling upgrade goes."""
    return [str(zone) for zone in column(sql, "SELECT ZONE FROM oceanbase.DBA_OB_ZONES")]


def zone_statuses(sql: Sql) -> list[tuple[str, str]]:
    rows = sql.query("SELECT ZONE, STATUS FROM oceanbase.DBA_OB_ZONES ORDER BY ZONE")
    return [(str(r["ZONE"]), str(r["STATUS"])) for r in rows]


def zone_status(sql: Sql, zone: str) -> str | None:
    """ACTIVE, INACTIVE, or None for a zone that does not exist."""
    rows = sql.query("SELECT STATUS FROM oceanbase.DBA_OB_ZONES WHERE ZONE = %s", (zone,))
    return str(rows[0]["STATUS"]).upper() if rows else None


def zone_count(sql: Sql) -> int:
    return count(sql, "SELECT count(*) FROM oceanbase.DBA_OB_ZONES")


def stopped_zones(sql: Sql) -> list[str]:
    return [str(zone) for zone in column(sql, "SELECT ZONE FROM oceanbase.DBA_OB_ZONES WHERE STATUS != 'ACTIVE'")]


def zone_statement(verb: str, zone: str) -> str:
    """``ALTER SYSTEM STOP|START ZONE 'zone'`` (zone names are checked: no quoting games)."""
    if verb not in ("STOP", "START") or not is_zone_name(zone):
        raise ValueError(f"not a zone statement: {verb} {zone!r}")
    return f"ALTER SYSTEM {verb} ZONE '{zone}'"


def stop_zone(sql: Sql, zone: str) -> None:
    sql.execute(zone_statement("STOP", zone))


def start_zone(sql: Sql, zone: str) -> None:
    sql.execute(zone_statement("START", zone))
