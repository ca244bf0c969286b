"""Where the agent's observer is and how to log in to it, read from the observer's home."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyobshell.observer_config import ObserverConfigError, read_config, read_int

# Keys of the observer config this agent reads (the names OceanBase itself uses).
SQL_PORT_KEY = "mysql_port"
RPC_PORT_KEY = "rpc_port"
LOCAL_IP_KEY = "local_ip"
ZONE_KEY = "zone"

ROOT_SYS_USER = "root@sys"


@dataclass(frozen=True)
class ObserverTarget:
    """The observer an agent manages: its home, SQL address, zone and root@sys credentials."""

    ob_home: Path
    host: str
    sql_port: int
    zone: str = ""
    rpc_port: int | None = None
    user: str = ROOT_SYS_USER
    password: str = field(default="", repr=False)


def load_observer_target(ob_home: Path, default_host: str, password: str) -> ObserverTarget:
    """Read the observer's SQL port, address and zone from ``ob_home``'s config file.

    Raises ObserverConfigError when the config is missing or has no valid SQL port.
    """
    values = read_config(ob_home)
    sql_port = read_int(values, SQL_PORT_KEY)
    rpc_port = read_int(values, RPC_PORT_KEY) if values.get(RPC_PORT_KEY) else None
    host = values.get(LOCAL_IP_KEY, "").strip() or default_host
    return ObserverTarget(
        ob_home=ob_home,
        host=host,
        sql_port=sql_port,
        zone=values.get(ZONE_KEY, "").strip(),
        rpc_port=rpc_port,
        password=password,
    )


__all__ = ["ObserverConfigError", "ObserverTarget", "load_observer_target", "ROOT_SYS_USER"]
