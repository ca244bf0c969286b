"""Who leads each log stream, and which servers hold the root service.

What a zone must hand over before its observers may be stopped (reference:
oceanbase-upgrade-internals §5.4, ``STOP ZONE``): read from ``CDB_OB_LS_LOCATIONS`` (every
tenant's log streams, with the replica's ``ROLE`` and ``ZONE``) and
``DBA_OB_SERVERS.WITH_ROOTSERVER``. The rows are checked, not trusted: a NULL or a value of
the wrong kind raises :class:`LeaderViewError` naming the row, so that a caller deciding
whether an observer may be killed never decides on a half-read view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyobshell.ob.sql import Sql

_LEADERS = ("SELECT l.TENANT_ID, t.TENANT_NAME, l.LS_ID, l.SVR_IP, l.SVR_PORT, l.ZONE "
            "FROM oceanbase.CDB_OB_LS_LOCATIONS l LEFT JOIN oceanbase.DBA_OB_TENANTS t ON t.TENANT_ID = l.TENANT_ID "
            "WHERE l.ROLE = 'LEADER'")
_ROOT_SERVICE = "SELECT SVR_IP, SVR_PORT, ZONE FROM oceanbase.DBA_OB_SERVERS WHERE WITH_ROOTSERVER = 'YES'"


class LeaderViewError(ValueError):
    """A leader or root-service row that cannot be trusted (NULLs, wrong kinds)."""


@dataclass(frozen=True)
class LsLeader:
    tenant_id: int
    tenant_name: str  # '' when the tenant is not in DBA_OB_TENANTS
    ls_id: int
    svr_ip: str
    svr_port: int
    zone: str

    @property
    def server(self) -> str:
        return f"{self.svr_ip}:{self.svr_port}"

    def describe(self) -> str:
        tenant = f"tenant {self.tenant_id}" + (f" ({self.tenant_name})" if self.tenant_name else "")
        return f"{tenant} LS {self.ls_id} on {self.server}"


@dataclass(frozen=True)
class RootServiceHolder:
    svr_ip: str
    svr_port: int
    zone: str

    @property
    def server(self) -> str:
        return f"{self.svr_ip}:{self.svr_port}"


def _integer(row: Mapping[str, Any], name: str, view: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or value is None:
        raise LeaderViewError(f"{view} answered {name}={value!r} in row {dict(row)!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LeaderViewError(f"{view} answered {name}={value!r}, not a number, in row {dict(row)!r}") from None


def _text(row: Mapping[str, Any], name: str, view: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise LeaderViewError(f"{view} answered {name}={value!r} in row {dict(row)!r}")
    return value.strip()


def parse_leader(row: Mapping[str, Any]) -> LsLeader:
    view = "CDB_OB_LS_LOCATIONS"
    name = row.get("TENANT_NAME")
    return LsLeader(_integer(row, "TENANT_ID", view), name if isinstance(name, str) else "",
                    _integer(row, "LS_ID", view), _text(row, "SVR_IP", view), _integer(row, "SVR_PORT", view),
                    _text(row, "ZONE", view))


def parse_root_service(row: Mapping[str, Any]) -> RootServiceHolder:
    view = "DBA_OB_SERVERS"
    return RootServiceHolder(_text(row, "SVR_IP", view), _integer(row, "SVR_PORT", view), _text(row, "ZONE", view))


def ls_leaders(sql: Sql) -> list[LsLeader]:
    """The leader replica of every log stream of every tenant (raises LeaderViewError)."""
    return [parse_leader(row) for row in sql.query(_LEADERS)]


def root_service_holders(sql: Sql) -> list[RootServiceHolder]:
    """The servers that say they host the root service (one, on a healthy cluster)."""
    return [parse_root_service(row) for row in sql.query(_ROOT_SERVICE)]


def switch_leader_statement(tenant: str, ls_id: int, server: str) -> str:
    """What an operator runs to move one leader by hand (quoted in the Stop zone log)."""
    return f"ALTER SYSTEM SWITCH REPLICA LEADER LS = {int(ls_id)} SERVER = '{server}' TENANT = '{tenant}'"
