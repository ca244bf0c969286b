"""The MySQL wire-protocol server of a simulated observer (mysql-mimic), with OK packets that
carry affected rows and the last insert id, and OceanBase's login rules."""

from __future__ import annotations

import secrets
from typing import Any

import mysql_mimic.server
from mysql_mimic import MysqlServer, User
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin
from mysql_mimic.connection import Connection
from mysql_mimic import packets, types

from pyobshell.sim import binary_literals
from pyobshell.sim.sql_errors import access_denied
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_session import ObserverInfo, SimSession


_ACCESS_DENIED = 1045


class SimConnection(Connection):
    """mysql-mimic answers DML with a bare OK (clients need the affected-row count), announces
    autocommit off in the handshake while sessions start with autocommit on, and refuses a login
    with its own wording instead of MySQL's."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.status_flags = types.ServerStatus.SERVER_STATUS_AUTOCOMMIT
        self._login: tuple[str, bool] = ("", False)  # user as sent, whether a password came with it

    async def authenticate(self, username: str, auth_response: bytes, *args: Any, **kwargs: Any) -> None:
        self._login = (username, bool(auth_response))
        await super().authenticate(username, auth_response, *args, **kwargs)

    def error(self, **kwargs: Any) -> bytes:
        if kwargs.get("code") == _ACCESS_DENIED:
            username, with_password = self._login
            kwargs["msg"] = access_denied(username.partition("@")[0], self._peer_host(), with_password).message
        return super().error(**kwargs)

    def _peer_host(self) -> str:
        peer = self.stream.writer.get_extra_info("peername")
        return str(peer[0]) if peer else "localhost"

    async def handle_query(self, data: bytes) -> None:
        data, blobs = binary_literals.extract(data)
        com_query = packets.parse_com_query(capabilities=self.capabilities, client_charset=self.client_charset, data=data)
        self.session.blobs = blobs
        try:
            result_set = await self.query(com_query.sql, com_query.query_attrs)
        finally:
            self.session.blobs = {}
        if not result_set:
            affected, insert_id = getattr(self.session, "last_ok", (0, 0))
            await self.stream.write(self.ok(affected_rows=affected, last_insert_id=insert_id))
            return
        await self.write_text_resultset(result_set)


class RootIdentityProvider(IdentityProvider):
    """``root``, ``root@sys`` and ``root@sys#cluster`` log in with the root password; anyone
    else is refused with 1045 like any wrong password."""

    def __init__(self, password: str):
        self._auth_string = NativePasswordAuthPlugin.create_auth_string(password) if password else None
        self._never = NativePasswordAuthPlugin.create_auth_string(secrets.token_hex(16))

    def get_plugins(self) -> list[NativePasswordAuthPlugin]:
        return [NativePasswordAuthPlugin()]

    async def get_user(self, username: str) -> User | None:
        user, _, tenant = username.partition("@")
        tenant = tenant.split("#", 1)[0]
        known = user == "root" and tenant in ("", "sys")
        return User(name=username, auth_string=self._auth_string if known else self._never,
                    auth_plugin=NativePasswordAuthPlugin.name)


def make_server(info: ObserverInfo, settings: SimSettings) -> MysqlServer:
    # mysql-mimic builds its Connection by module-level name; point it at ours.
    mysql_mimic.server.Connection = SimConnection  # type: ignore[misc]

    def session_factory() -> Any:
        return SimSession(info, settings)

    return MysqlServer(session_factory=session_factory, identity_provider=RootIdentityProvider(settings.root_password))
