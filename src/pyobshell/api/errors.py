"""Turning errors into envelopes: ObshellError, validation failures, unknown routes, methods."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from pyobshell.api.envelope import EnvelopeResponse, error_body, obshell_error_body
from pyobshell.errors import (
    COMMON_BAD_REQUEST,
    COMMON_BIND_JSON_FAILED,
    COMMON_ILLEGAL_ARGUMENT,
    DATABASE_UNAVAILABLE,
    ObshellError,
)

log = logging.getLogger(__name__)

ENVELOPED_PREFIXES = ("/api/v1/", "/rpc/v1/")
METHOD_NOT_ALLOWED_CODE = "Common.MethodNotAllowed"


def is_enveloped_path(path: str) -> bool:
    return path.startswith(ENVELOPED_PREFIXES) or path in ("/api/v1", "/rpc/v1")


async def handle_obshell_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ObshellError)
    if exc.status >= 500:
        log.error("%s %s failed: [%s] %s", request.method, request.url.path, exc.code, exc.message)
    return EnvelopeResponse(request, exc.status, error=obshell_error_body(exc), headers=exc.headers or None)


async def handle_database_error(request: Request, exc: Exception) -> Response:
    """A store that cannot be reached or gave a transaction up: a coded error, not a traceback."""
    assert isinstance(exc, OperationalError)
    reason = str(exc.orig if exc.orig is not None else exc).splitlines()[0]
    return await handle_obshell_error(request, DATABASE_UNAVAILABLE(reason))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not is_enveloped_path(request.url.path):
        return await http_exception_handler(request, exc)
    if exc.status_code == 404:
        error = error_body("Common.NotFound", "Element not found: 404 not found")
    elif exc.status_code == 405:
        error = error_body(METHOD_NOT_ALLOWED_CODE, f"Method {request.method} not allowed on {request.url.path}")
    else:
        error = error_body(COMMON_BAD_REQUEST.code, f"Bad request: {exc.detail}")
    return EnvelopeResponse(request, exc.status_code, error=error, headers=dict(exc.headers or {}))


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not is_enveloped_path(request.url.path):
        return await request_validation_exception_handler(request, exc)
    problems = [_field_error(err) for err in exc.errors()]
    in_body = any(err.get("loc", ("",))[0] == "body" for err in exc.errors())
    code = COMMON_BIND_JSON_FAILED if in_body else COMMON_ILLEGAL_ARGUMENT
    summary = "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)
    message = code.template.format(summary)
    return EnvelopeResponse(request, 400, error=error_body(code.code, message, problems))


def _field_error(err: dict[str, Any]) -> dict[str, str]:
    """One validation problem as obshell's ApiFieldError {tag, field, message}."""
    loc = [str(part) for part in err.get("loc", ())]
    # "body" alone means the whole body (e.g. malformed JSON); drop it from field paths.
    field = ".".join(loc[1:] if loc and loc[0] == "body" else loc)
    message = str(err.get("msg", "invalid value"))
    if err.get("type") == "json_invalid":
        position = err.get("ctx", {}).get("error", "")
        message = f"malformed JSON ({position})" if position else "malformed JSON"
        field = ""
    return {"tag": str(err.get("type", "")), "field": field, "message": message}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ObshellError, handle_obshell_error)
    app.add_exception_handler(OperationalError, handle_database_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
