"""OceanBase's two event histories, as the root service writes them.

* ``__all_rootservice_event_history`` (``DBA_OB_ROOTSERVICE_EVENT_HISTORY``): one row per
  administrative command, written whether it succeeded or not (``ret`` is the OB return code,
  0 or negative), plus the zone manager's own rows when a zone changes state;
* ``__all_cluster_event_history`` (``DBA_OB_CLUSTER_EVENT_HISTORY``): the cluster-wide upgrade
  milestones (BEGIN/END [ROLLING] UPGRADE) with the versions involved.

Each row has up to six (name, value) pairs, as OceanBase's tables do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pyobshell.sim.sql_errors import SqlError
from pyobshell.sim.sql_functions import now_us

Pairs = Sequence[tuple[str, object]]
_MAX_PAIRS = 6
# MySQL errnos the simulator answers for OceanBase codes that map to a MySQL code (reference §5.4).
_OB_CODE_OF_MYSQL = {1210: -4002, 1235: -4007, 1064: -5001}


def ob_return_code(error: SqlError | None) -> int:
    """The ``ret`` OceanBase logs for a statement that answered ``error`` (None: success)."""
    if error is None:
        return 0
    return _OB_CODE_OF_MYSQL.get(error.code, -error.code)


def rootservice_event(conn: sqlite3.Connection, module: str, event: str, pairs: Pairs,
                      rs_address: tuple[str, int] | None) -> None:
    ip, port = rs_address or ("", 0)
    _insert(conn, "rootservice", module, event, pairs, ip, port)


def cluster_event(conn: sqlite3.Connection, module: str, event: str, pairs: Pairs) -> None:
    _insert(conn, "cluster", module, event, pairs, "", 0)


def _insert(conn: sqlite3.Connection, history: str, module: str, event: str, pairs: Pairs, ip: str, port: int) -> None:
    if len(pairs) > _MAX_PAIRS:
        raise ValueError(f"an event has at most {_MAX_PAIRS} name/value pairs")
    columns = [f"{kind}{i}" for i in range(1, len(pairs) + 1) for kind in ("name", "value")]
    values = [str(part) for pair in pairs for part in pair]
    names = ", ".join(["gmt_create_us", "history", "module", "event", "rs_svr_ip", "rs_svr_port", *columns])
    marks = ", ".join("?" * (6 + len(values)))
    conn.execute(f"INSERT INTO __sim_event ({names}) VALUES ({marks})", (now_us(), history, module, event, ip, port, *values))
