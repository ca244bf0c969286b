"""The app's routes as one flat list, whatever way the FastAPI version nests included routers.

Recent FastAPI keeps ``include_router`` results as nested groups whose effective routes (with
the include-time prefix and dependencies) are only reachable through
``fastapi.routing.iter_route_contexts``; older versions copy the routes into ``app.routes``.
Each item offers ``matches(scope)``, ``path``, ``methods`` and ``dependant`` either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import routing as fastapi_routing
from starlette.routing import Match
from starlette.types import Scope

_iter_route_contexts = getattr(fastapi_routing, "iter_route_contexts", None)


def flat_routes(app: Any) -> Iterator[Any]:
    routes = getattr(getattr(app, "router", None), "routes", ())
    if _iter_route_contexts is None:
        yield from routes
    else:
        yield from _iter_route_contexts(routes)


def matching_route(app: Any, scope: Scope) -> Any | None:
    """The route a request reaches (a full path and method match), or None."""
    for route in flat_routes(app):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None
