"""Minor freeze: dump a server's memtables so it replays less log after a restart."""

from __future__ import annotations

from pyobshell.ob.sql import Sql


def minor_freeze_statement(servers: list[str]) -> str:
    """``ALTER SYSTEM MINOR FREEZE SERVER = ('ip:port', ...)``."""
    for server in servers:
        ip, _, port = server.rpartition(":")
        if not ip or not port.isdigit() or "'" in ip:
            raise ValueError(f"not a server: {server!r}")
    return "ALTER SYSTEM MINOR FREEZE SERVER = (" + ", ".join(f"'{s}'" for s in servers) + ")"


def minor_freeze(sql: Sql, servers: list[str]) -> str:
    statement = minor_freeze_statement(servers)
    sql.execute(statement)
    return statement


def lowest_checkpoint(sql: Sql, server: str) -> int:
    """The lowest checkpoint SCN of a server's log streams (0: it has none)."""
    ip, _, port = server.rpartition(":")
    rows = sql.query("SELECT checkpoint_scn FROM oceanbase.__all_virtual_ls_info WHERE svr_ip = %s AND svr_port = %s "
                     "ORDER BY checkpoint_scn ASC LIMIT 1", (ip, int(port)))
    return int(rows[0]["checkpoint_scn"]) if rows and rows[0]["checkpoint_scn"] is not None else 0
