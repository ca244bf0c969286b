"""A tiny MySQL server (mysql-mimic) standing in for an observer in ob-layer tests.

``mode`` decides what it answers: "available" (everything), "restricted" (only SELECT 1).
``stop()`` closes the listener and every open connection, like an observer dying.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from mysql_mimic import MysqlServer, Session
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.errors import MysqlError


class _RootOnly(IdentityProvider):
    """Accepts root@sys with one password, like an observer's sys tenant."""

    def __init__(self, password: str) -> None:
        self.password = password

    async def get_user(self, username: str) -> User | None:
        if username != "root@sys":
            return None
        auth_string = NativePasswordAuthPlugin.create_auth_string(self.password)
        return User(name=username, auth_string=auth_string, auth_plugin=NativePasswordAuthPlugin.name)


class FakeObserverSql:
    def __init__(self, host: str, port: int, password: str) -> None:
        self.host, self.port, self.password = host, port, password
        self.mode = "available"
        self.queries: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: MysqlServer | None = None
        self._writers: list[Any] = []

    def _session_factory(self) -> Session:
        fake = self

        class FakeSession(Session):
            async def init(self, connection: Any) -> None:
                await super().init(connection)
                fake._writers.append(connection.stream.writer)

            async def handle_query(self, sql: str, attrs: dict[str, str]) -> Any:
                fake.queries.append(sql)
                text = sql.strip().rstrip(";").upper()
                if text == "SELECT 1":
                    return [(1,)], ["1"]
                if text.startswith("SET"):  # session set-up by the driver
                    return await super().handle_query(sql, attrs)
                if fake.mode == "restricted":
                    raise MysqlError("schema not ready")
                if text == "SHOW DATABASES":
                    return [("oceanbase",), ("ocs",)], ["Database"]
                if "OB_VERSION()" in text:
                    return [("4.2.1.1",)], ["version"]
                raise MysqlError(f"unsupported statement: {sql}")

        return FakeSession()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        async def start() -> None:
            self._server = MysqlServer(session_factory=self._session_factory, identity_provider=_RootOnly(self.password))
            await self._server.start_server(host=self.host, port=self.port, reuse_address=True)

        self._call(start())

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.close()
            self._writers.clear()
            if self._server is not None:
                await self._server.wait_closed()
                self._server = None

        self._call(stop())

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
