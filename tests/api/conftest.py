from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
import pymysql
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.api.auth import PUBLIC, accepts
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.client import ObshellClient
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.errors import TASK_NOT_FOUND

FAKE_PUBLIC_KEY = "MIGJAoGBAFAKE"
ROOT_PASSWORD = "api-test-pw"


class EchoBody(BaseModel):
    name: str
    count: int


def test_only_router():
    """Routes that exist only in tests: errors of each kind, lists, empty data."""
    # Public: these tests are about the envelope; authentication has its own tests.
    router = obshell_router(prefix="/api/v1/test", dependencies=[accepts(PUBLIC)])

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-internal-detail")

    @router.get("/boom-sync")
    def boom_sync() -> None:
        raise KeyError("secret-internal-detail")

    @router.post("/echo", response_model=EchoBody)
    async def echo(body: EchoBody) -> EchoBody:
        return body

    @router.get("/list")
    async def listing() -> list[int]:
        return [1, 2, 3]

    @router.get("/nothing")
    async def nothing() -> None:
        return None

    @router.get("/not-found")
    async def not_found() -> None:
        raise TASK_NOT_FOUND("dag 7")

    @router.get("/database-gone")
    def database_gone() -> None:
        reason = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.1'")
        raise OperationalError("SELECT 1", {}, reason)

    return router


@pytest.fixture
def agent_state(tmp_path: Path, key_pair: AgentKeyPair) -> AgentState:
    security = AgentSecurity.create(key_pair, root_check=lambda candidate: candidate == ROOT_PASSWORD)
    return AgentState(ip="127.0.0.1", port=2886, home=tmp_path, public_key=key_pair.public_key_b64, security=security)


@pytest.fixture
def app(agent_state: AgentState) -> FastAPI:
    app = create_app(agent_state)
    app.include_router(test_only_router())
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(client: TestClient) -> ObshellClient:
    """The project's client, authenticated as root@sys, calling the app in process."""
    return ObshellClient("http://testserver", password=ROOT_PASSWORD, http_client=client)
