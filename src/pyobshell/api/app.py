"""The FastAPI application of an agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from pyobshell import __version__
from pyobshell.api.routes import agent, audit, metrics, ob, package, rpc, session, task, upgrade
from pyobshell.api.audit_middleware import AuditMiddleware
from pyobshell.api.auth_middleware import AuthMiddleware
from pyobshell.api.console import install_console
from pyobshell.api.errors import install_error_handlers
from pyobshell.api.metrics_middleware import MetricsMiddleware
from pyobshell.api.middleware import EnvelopeMiddleware
from pyobshell.api.openapi import install_openapi
from pyobshell.api.request_timeouts import BodyTimeoutMiddleware
from pyobshell.wire.agent import ServerState
from pyobshell.api.state import AgentState
from pyobshell.api.forwarding import ForwardBodyMiddleware, forward_to_owner
from pyobshell.engine import TaskOwnedByOtherAgent


def create_app(state: AgentState) -> FastAPI:
    """Build the app; while it runs, the observer monitor (if any) runs too."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.tasks is not None:  # before the monitor: its first AVAILABLE opens the cluster store
            await state.tasks.start()
        if state.ob_monitor is not None:
            state.ob_monitor.start()
        state.server_state = ServerState.RUNNING
        try:
            yield
        finally:
            state.server_state = ServerState.STOPPING
            if state.ob_monitor is not None:
                await state.ob_monitor.stop()
                state.ob_monitor.pool.close()
            if state.ob_pool is not None:
                state.ob_pool.close()
            if state.audit is not None:  # what is queued goes to the journal (and the store if it answers)
                await anyio.to_thread.run_sync(state.audit.close)
            if state.tasks is not None:
                await state.tasks.stop()
            state.server_state = ServerState.STOPPED

    app = FastAPI(
        title="pyobshell agent",
        version=__version__,
        description="An obshell-compatible agent that upgrades OceanBase clusters.",
        lifespan=lifespan,
    )
    app.state.agent = state
    install_error_handlers(app)
    app.add_exception_handler(TaskOwnedByOtherAgent, forward_to_owner)
    app.add_middleware(ForwardBodyMiddleware)  # innermost: sees the decrypted body
    app.add_middleware(AuthMiddleware)  # inside the envelope: refusals get a trace id
    app.add_middleware(AuditMiddleware)  # outside auth (sees its refusals), inside the envelope (trace id, 500s)
    app.add_middleware(EnvelopeMiddleware)
    app.add_middleware(BodyTimeoutMiddleware, body_idle_s=state.request_timeouts.body_idle_s)
    app.add_middleware(MetricsMiddleware)  # outermost: counts and times every answer, 408s included
    app.include_router(agent.router)
    app.include_router(rpc.router)
    app.include_router(task.router)
    app.include_router(package.router)
    app.include_router(upgrade.router)
    app.include_router(ob.router)
    app.include_router(session.router)
    app.include_router(audit.router)
    app.include_router(metrics.router)
    install_openapi(app)
    install_console(app)
    return app
