"""The options every client command shares (``--agent``, ``--json``) and the authenticated
client they lead to. The root@sys password comes from ``OB_ROOT_PASSWORD`` or a hidden prompt,
never from the command line (it would show in ``ps`` and the shell history)."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated

import typer

from pyobshell.client import ObshellClient

PASSWORD_ENV = "OB_ROOT_PASSWORD"
CLIENT_TIMEOUT_S = 60.0
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def check_agent_address(value: str) -> str:
    """``IP:PORT`` (``[v6]:PORT`` too); a usage error (exit 2) otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"expected IP:PORT, e.g. 127.0.0.1:2886, got {value!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise typer.BadParameter(f"{host!r} is neither an IP address nor a host name") from None
    return value.strip()


AgentOption = Annotated[
    str,
    typer.Option("--agent", "-a", callback=check_agent_address, metavar="IP:PORT",
                 help="An agent of the cluster (any one: cluster tasks are visible from every agent)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts, nothing else.")]


def root_password() -> str:
    """``OB_ROOT_PASSWORD``, or asked without echo."""
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    return typer.prompt("root@sys password", hide_input=True, default="", show_default=False, err=True)


def connect(agent: str, password: str | None = None) -> ObshellClient:
    """An authenticated client of ``agent`` (the password is asked for if not given)."""
    return ObshellClient(agent, password=root_password() if password is None else password,
                         timeout=CLIENT_TIMEOUT_S)
