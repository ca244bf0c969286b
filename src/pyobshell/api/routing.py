"""Routes whose handlers just return data; the route class puts it in the envelope.

Handlers work like ordinary FastAPI handlers (pydantic models, ``response_model``); FastAPI
serializes the data, and :class:`ObshellRoute` splices those bytes into the envelope, wrapping
a JSON list as ``{"contents": [...]}`` (``api.openapi`` documents the same). A handler that
returns an ``EnvelopeResponse`` (or any other Response) is passed through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.datastructures import DefaultPlaceholder
from starlette.requests import Request
from starlette.responses import Response

from pyobshell.api.envelope import EnvelopeResponse

_HOP_HEADERS = {"content-length", "content-type"}


class DataResponse(JSONResponse):
    """Marks a response FastAPI built from a handler's return value (to be enveloped)."""


class ObshellRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # APIRouter always passes a response_class (a placeholder when none was chosen).
        if isinstance(kwargs.get("response_class", DefaultPlaceholder(None)), DefaultPlaceholder):
            kwargs["response_class"] = DataResponse
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def envelope_handler(request: Request) -> Response:
            response = await handle(request)
            if not isinstance(response, DataResponse):
                return response
            return EnvelopeResponse(
                request,
                response.status_code,
                data_json=_as_contents(bytes(response.body)),
                headers={k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS},
                background=response.background,
            )

        return envelope_handler


def _as_contents(body: bytes) -> bytes:
    if body.lstrip().startswith(b"["):
        return b'{"contents":' + body + b"}"
    return body


def obshell_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes answer in obshell's envelope."""
    return APIRouter(route_class=ObshellRoute, **kwargs)
