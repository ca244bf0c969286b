"""ASGI middleware that counts every HTTP request: by route template, method and status, with its
latency (``pyobshell_http_requests_total``, ``pyobshell_http_request_duration_seconds``).

It is the outermost layer, so it sees every answer, the 408 of a stalled body and the refusals of
the auth middleware included, and times the whole of it (decryption, envelope). The route label
is the matched route's template (``/api/v1/task/dag/{id}``), never the raw path, so ids and
random probes of unknown paths cannot grow the number of series: a path that no route matches
is ``unmatched``. ``/metrics`` itself is counted like any route (a scrape's cost is worth seeing).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyobshell.api.route_table import flat_routes
from pyobshell.metrics import AgentMetrics

UNMATCHED = "unmatched"
# Distinct (method, path) pairs whose template is remembered (paths carry ids, so bounded).
TEMPLATE_CACHE_ENTRIES = 1024


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (routes of the app, method, path) -> template: matching scans every route.
        self._templates: OrderedDict[tuple[int, str, str], str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = _metrics(scope)
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Before the app runs: routing rewrites the scope (a mount sets its root_path).
        route = self.template(scope)
        status = 0

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            status = status or 500  # what the server answers when nothing was sent
            raise
        finally:
            metrics.request_done(route, scope["method"], status, time.perf_counter() - started)

    def template(self, scope: Scope) -> str:
        key = (_route_count(scope.get("app")), scope["method"], scope["path"])
        found = self._templates.get(key)
        if found is None:
            found = route_template(scope)
            self._templates[key] = found
            if len(self._templates) > TEMPLATE_CACHE_ENTRIES:
                self._templates.popitem(last=False)
        return found


def route_template(scope: Scope) -> str:
    """The template of the route the request reaches; of the route whose path it matches when the
    method is not allowed there (a 405); else ``unmatched``."""
    partial = None
    for route in flat_routes(scope.get("app")):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return _template_of(route)
        if match is Match.PARTIAL and partial is None:
            partial = route
    return _template_of(partial) if partial is not None else UNMATCHED


def _template_of(route: object) -> str:
    return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))


def _route_count(app: object) -> int:
    return len(getattr(getattr(app, "router", None), "routes", ()))


def _metrics(scope: Scope) -> AgentMetrics | None:
    agent = getattr(getattr(scope.get("app"), "state", None), "agent", None)
    return getattr(agent, "metrics", None)
