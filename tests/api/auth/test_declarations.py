"""How routes declare their policy, what is enforced when they declare nothing, and the
guarantees that hold even when the app is wired wrongly."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from pyobshell.api.app import create_app
from pyobshell.api.auth import AGENT, PASSWORD, PUBLIC, AuthPolicy, accepts, effective_policy
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.security.credentials import AuthKind
from pyobshell.security.auth_error import AuthFailure
from tests.api.auth.conftest import assert_refused


def test_defaults_by_path() -> None:
    assert effective_policy("/api/v1/status", "/api/v1/status", "POST", None) == PUBLIC
    assert effective_policy("/api/v1/secret", "/api/v1/secret", "DELETE", None) == PASSWORD  # only GET is public
    assert effective_policy("/api/v1/task/1", "/api/v1/task/{id}", "GET", None) == PASSWORD
    assert effective_policy("/rpc/v1/x", "/rpc/v1/x", "GET", None) == AGENT


def test_rpc_declarations_can_only_narrow_the_agent_kinds() -> None:
    agent_password_only = AuthPolicy.of(AuthKind.AGENT_PASSWORD)
    assert effective_policy("/rpc/v1/x", "/rpc/v1/x", "GET", agent_password_only) == agent_password_only
    assert effective_policy("/rpc/v1/x", "/rpc/v1/x", "GET", PUBLIC) == AGENT
    assert effective_policy("/rpc/v1/x", "/rpc/v1/x", "GET", PASSWORD) == AGENT


def test_route_declaration_wins_over_the_router_declaration() -> None:
    router = obshell_router(prefix="/api/v1/decl", dependencies=[accepts(AGENT)])

    @router.get("/default")
    async def default() -> None: ...

    @router.get("/public", dependencies=[accepts(PUBLIC)])
    async def public() -> None: ...

    app = create_app(AgentState(ip="127.0.0.1", port=1, home=Path("/nonexistent")))
    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/api/v1/decl/public").status_code == 200
        assert_refused(client.get("/api/v1/decl/default"), AuthFailure.MISSING_HEADER.value)


def test_without_agent_security_every_non_public_route_is_refused(tmp_path: Path) -> None:
    app = create_app(AgentState(ip="127.0.0.1", port=1, home=tmp_path, public_key=lambda: "k"))
    with TestClient(app) as client:
        assert client.get("/api/v1/secret").status_code == 200
        assert_refused(client.get("/api/v1/agents/status"), AuthFailure.MISSING_HEADER.value)
        assert_refused(client.get("/rpc/v1/agent/info"), AuthFailure.MISSING_HEADER.value)


def test_a_declared_route_refuses_to_run_without_the_middleware(tmp_path: Path) -> None:
    app = FastAPI()  # no AuthMiddleware: only the accepts() dependency stands guard
    router = obshell_router(prefix="/api/v1/bare", dependencies=[accepts(PASSWORD)])
    ran = []

    @router.get("/x")
    async def x() -> None:
        ran.append(1)

    app.include_router(router)
    from pyobshell.api.errors import install_error_handlers

    install_error_handlers(app)
    with TestClient(app) as client:
        assert client.get("/api/v1/bare/x").status_code == 400
    assert ran == []


def test_routes_added_after_the_first_requests_get_their_own_policy(tmp_path: Path) -> None:
    app = create_app(AgentState(ip="127.0.0.1", port=1, home=tmp_path, public_key=lambda: "k"))
    with TestClient(app) as client:
        assert client.get("/api/v1/late/open").status_code == 404  # remembered as "no route"
        router = obshell_router(prefix="/api/v1/late")

        @router.get("/open", dependencies=[accepts(PUBLIC)])
        async def open_route() -> None: ...

        @router.get("/closed")
        async def closed_route() -> None: ...

        app.include_router(router)
        assert client.get("/api/v1/late/open").status_code == 200
        assert_refused(client.get("/api/v1/late/closed"), AuthFailure.MISSING_HEADER.value)
