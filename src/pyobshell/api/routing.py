"""Routes whose handlers just return data; the route class puts it in the envelope.

Handlers work like ordinary FastAPI handlers (pydantic models, ``response_model``); FastAPI
serializes the data, and :class:`ObshellRoute` splices those bytes into the envelope, wrapping
a JSON list as ``{"contents": [...]}`` (``api.openapi`` documents the same). A handler that
returns an ``EnvelopeResponse`` (or any other Response) is passed through untouched.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from pyobshell.api.envelope import EnvelopeResponse

_HOP_HEADERS = {"content-length", "content-type"}
_OWN_RESPONSE = "_pyobshell_handler_response"  # set on a Response the handler itself returned


class ObshellRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # The response class stays FastAPI's default: with a response model, FastAPI then writes
        # the JSON in pydantic's core (``dump_json``) instead of building a dict for json.dumps,
        # which was most of the cost of a large answer such as a DAG with its details. What the
        # handler returned itself is told apart by a mark instead of by the response's class.
        super().__init__(path, _marking_own_responses(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def envelope_handler(request: Request) -> Response:
            response = await handle(request)
            if getattr(response, _OWN_RESPONSE, False):
                return response
            return EnvelopeResponse(
                request,
                response.status_code,
                data_json=_as_contents(bytes(response.body)),
                headers={k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS},
                background=response.background,
            )

        return envelope_handler


def _marking_own_responses(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, with any Response it returns marked to pass through the envelope untouched
    (FastAPI reads the signature and annotations through ``functools.wraps``)."""
    if inspect.iscoroutinefunction(endpoint):
        @functools.wraps(endpoint)
        async def marked_async(*args: Any, **kwargs: Any) -> Any:
            return _mark(await endpoint(*args, **kwargs))
        return marked_async

    @functools.wraps(endpoint)
    def marked(*args: Any, **kwargs: Any) -> Any:
        return _mark(endpoint(*args, **kwargs))
    return marked


def _mark(result: Any) -> Any:
    if isinstance(result, Response):
        setattr(result, _OWN_RESPONSE, True)
    return result


def _as_contents(body: bytes) -> bytes:
    if body.lstrip().startswith(b"["):
        return b'{"contents":' + body + b"}"
    return body


def obshell_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes answer in obshell's envelope."""
    return APIRouter(route_class=ObshellRoute, **kwargs)
