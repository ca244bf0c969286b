"""The web console's static files: ``GET /`` (the page) and ``/console/...`` (its scripts and style).

They are public: the page holds no data; everything it shows it reads through the API, which
stays authenticated (the auth middleware only looks at ``/api/v1`` and ``/rpc/v1``). Neither
route is in the OpenAPI document. Every answer carries a strict Content-Security-Policy (scripts
and styles from this agent only, no inline script, no framing), so the page can only ever run
its own code.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from pyobshell.console import INDEX_FILE, STATIC_DIR

CONSOLE_PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated (ETag): a new agent version is picked up at once
}


class ConsoleFiles(StaticFiles):
    """StaticFiles with the console's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


async def console_page() -> FileResponse:
    return FileResponse(INDEX_FILE, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/`` (after the API routes, so it never shadows one)."""
    app.add_api_route("/", console_page, methods=["GET"], include_in_schema=False)
    app.mount(CONSOLE_PREFIX, ConsoleFiles(directory=STATIC_DIR), name="console")
