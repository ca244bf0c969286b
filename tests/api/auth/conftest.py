"""An agent app with real request verification, injected credential checks, a clock moved by
hand, and test-only routes that count how often they actually ran."""

from __future__ import annotations

from tests.helpers.clock import FakeClock

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from fastapi import FastAPI, Request, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.api.auth import AGENT, PASSWORD, PUBLIC, CallerDep, accepts
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.api.uploads import verify_file_digest
from pyobshell.errors import ErrorCode
from pyobshell.security.agent_token import AgentToken
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutPolicy
from pyobshell.security.session_store import SessionStore
from pyobshell.security.file_digest import sha256_hex

ROOT_PASSWORD = "r00t-S3cret!"
AGENT_PASSWORD = "ag3nt-pw"
LOCKOUT = LockoutPolicy(max_failures=3, window=60, lock_seconds=120)
SESSION_TIMEOUT_S = 600.0


@dataclass
class Effects:
    """What the test routes and the root check did."""

    count: int = 0
    bodies: list[dict] = field(default_factory=list)
    root_checks: int = 0
    root_check_threads: set[int] = field(default_factory=set)
    handler_threads: set[int] = field(default_factory=set)


class Increment(BaseModel):
    by: int
    label: str


def test_only_routers(effects: Effects) -> list:
    api = obshell_router(prefix="/api/v1/authtest")  # declares nothing: the /api/v1 default applies

    @api.post("/counter")
    async def add(body: Increment, caller: CallerDep) -> dict:
        effects.count += body.by
        effects.bodies.append(body.model_dump())
        effects.handler_threads.add(threading.get_ident())
        return {"count": effects.count, "kind": caller.kind.value if caller else None}

    @api.get("/counter")
    async def bump(step: int = 1) -> dict:
        effects.count += step
        return {"count": effects.count}

    @api.get("/open", dependencies=[accepts(PUBLIC)])
    async def open_route(caller: CallerDep) -> dict:
        effects.count += 1
        return {"caller": caller.kind.value if caller else None}

    @api.post("/upload", dependencies=[accepts(PASSWORD.with_plain_body())])
    async def upload(request: Request, file: UploadFile) -> dict:
        digest = sha256_hex(await file.read())
        verify_file_digest(request, request.app.state.agent.security, digest)
        effects.count += 1
        return {"sha256": digest}

    # An /rpc/v1 route that tries to be public: /rpc/v1 must still demand agent credentials.
    rpc = obshell_router(prefix="/rpc/v1/authtest")

    @rpc.post("/poke", dependencies=[accepts(PUBLIC)])
    async def poke() -> dict:
        effects.count += 1
        return {"count": effects.count}

    @rpc.get("/items/{item_id}", dependencies=[accepts(AGENT)])
    async def item(item_id: int) -> dict:
        effects.count += 1
        return {"id": item_id}

    return [api, rpc]


@pytest.fixture
def effects() -> Effects:
    return Effects()


@pytest.fixture
def agent_token() -> AgentToken:
    return AgentToken.generate()


@pytest.fixture
def session_engine(tmp_path: Path) -> Iterator[Engine]:
    """Stands in for the cluster store's engine (the ``ocs`` database) that sessions live in."""
    engine = create_engine(f"sqlite:///{tmp_path / 'ocs.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(session_engine: Engine, clock: FakeClock) -> SessionStore:
    return SessionStore(lambda: session_engine, timeout_s=SESSION_TIMEOUT_S, clock=clock)


@pytest.fixture
def security(key_pair: AgentKeyPair, clock: FakeClock, effects: Effects, agent_token: AgentToken,
             sessions: SessionStore) -> AgentSecurity:
    def root_check(candidate: str) -> bool:
        effects.root_checks += 1
        effects.root_check_threads.add(threading.get_ident())
        return candidate == ROOT_PASSWORD

    return AgentSecurity.create(
        key_pair,
        root_check=root_check,
        agent_password=lambda: AGENT_PASSWORD,
        token_checker=agent_token,
        sessions=sessions,
        clock=clock,
        lockout_policy=LOCKOUT,
    )


@pytest.fixture
def app(tmp_path: Path, key_pair: AgentKeyPair, security: AgentSecurity, effects: Effects) -> FastAPI:
    state = AgentState(ip="127.0.0.1", port=2886, home=tmp_path, public_key=key_pair.public_key_b64, security=security)
    app = create_app(state)
    for router in test_only_routers(effects):
        app.include_router(router)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_refused(response, code: ErrorCode) -> dict:
    """The refusal obshell gives for ``code``: its status, errCode and numeric ``code``, a message
    that starts as obshell's wrapped ones do, nothing of a traceback."""
    assert response.status_code == int(code.kind), response.text
    body = response.json()
    assert body["successful"] is False and body["status"] == int(code.kind)
    error = body["error"]
    assert error["errCode"] == code.code, error
    assert error.get("code", 0) == code.old_code, error
    assert error["message"].startswith("Unauthorized: "), error
    assert "Traceback" not in response.text
    return error
