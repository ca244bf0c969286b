"""Generic task ids: one string naming a DAG/node/sub-task row and the store holding it.

``"1" + id`` is a cluster task; ``"2" + %010d(ipv4) + %05d(port) + id`` a local task of the
agent at that address (``"3"`` with %039d for IPv6; ``"4"``/``"5"`` the obproxy variants).
Unlike obshell, IPv6 addresses with leading zero bytes (``::1``) decode correctly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pyobshell.engine.model import AgentInfo
from pyobshell.errors import TASK_GENERIC_ID_INVALID

CLUSTER_PREFIX = "1"
LOCAL_V4, LOCAL_V6, OBPROXY_V4, OBPROXY_V6 = "2", "3", "4", "5"
_V4_LEN = 1 + 10 + 5
_V6_LEN = 1 + 39 + 5


@dataclass(frozen=True)
class GenericId:
    id: int
    agent: AgentInfo | None  # None: a cluster task
    is_obproxy: bool = False

    @property
    def is_cluster(self) -> bool:
        return self.agent is None


def encode_cluster_id(row_id: int) -> str:
    return f"{CLUSTER_PREFIX}{int(row_id)}"


def encode_local_id(row_id: int, agent: AgentInfo, *, obproxy: bool = False) -> str:
    """The generic id of a local row; ``agent`` is the agent owning the store."""
    address = ipaddress.ip_address(agent.ip)
    if address.version == 4:
        prefix = OBPROXY_V4 if obproxy else LOCAL_V4
        return f"{prefix}{int(address):010d}{agent.port:05d}{int(row_id)}"
    prefix = OBPROXY_V6 if obproxy else LOCAL_V6
    return f"{prefix}{int(address):039d}{agent.port:05d}{int(row_id)}"


def encode_id(row_id: int, *, is_local: bool, agent: AgentInfo, obproxy: bool = False) -> str:
    if is_local or obproxy:
        return encode_local_id(row_id, agent, obproxy=obproxy)
    return encode_cluster_id(row_id)


def is_obproxy_id(gid: str) -> bool:
    return gid[:1] in (OBPROXY_V4, OBPROXY_V6)


def _invalid(gid: str) -> Exception:
    return TASK_GENERIC_ID_INVALID(gid)


def _row_id(gid: str, digits: str) -> int:
    if not digits.isdigit() or not digits.isascii():
        raise _invalid(gid)
    value = int(digits)
    if value <= 0 or value >= 2**63:
        raise _invalid(gid)
    return value


def _port(gid: str, digits: str) -> int:
    if not (digits.isdigit() and digits.isascii()) or int(digits) > 65535:
        raise _invalid(gid)
    return int(digits)


def decode_generic_id(gid: str) -> GenericId:
    """Parse a generic id; anything malformed is ``Task.GenericID.Invalid`` (HTTP 400)."""
    if not isinstance(gid, str) or not gid:
        raise _invalid(str(gid))
    prefix = gid[0]
    if prefix == CLUSTER_PREFIX:
        if len(gid) <= 1:
            raise _invalid(gid)
        return GenericId(_row_id(gid, gid[1:]), None)
    if prefix in (LOCAL_V4, OBPROXY_V4):
        if len(gid) <= _V4_LEN:
            raise _invalid(gid)
        ip_digits, port_digits, rest = gid[1:11], gid[11:16], gid[16:]
        version_max = 2**32
    elif prefix in (LOCAL_V6, OBPROXY_V6):
        if len(gid) <= _V6_LEN:
            raise _invalid(gid)
        ip_digits, port_digits, rest = gid[1:40], gid[40:45], gid[45:]
        version_max = 2**128
    else:
        raise _invalid(gid)
    if not (ip_digits.isdigit() and ip_digits.isascii()) or int(ip_digits) >= version_max:
        raise _invalid(gid)
    number = int(ip_digits)
    ip = ipaddress.IPv4Address(number) if version_max == 2**32 else ipaddress.IPv6Address(number)
    agent = AgentInfo(str(ip), _port(gid, port_digits))
    return GenericId(_row_id(gid, rest), agent, is_obproxy=prefix in (OBPROXY_V4, OBPROXY_V6))
