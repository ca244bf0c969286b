"""``GET /metrics``: the agent's figures in Prometheus's text format (pyobshell's own route).

Not an obshell route: outside ``/api/v1``, so neither obshell's encrypted header (Prometheus
cannot build one) nor its envelope around the answer; a refused scrape is still answered in the
envelope, with ``Security.Authentication.Metrics.IncorrectToken``. Left out of the OpenAPI
document, like the console: it is not JSON, and the document describes the obshell API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import Response

from pyobshell.api.dependencies import MetricsDep
from pyobshell.metrics import CONTENT_TYPE, scrape

METRICS_PATH = "/metrics"
router = APIRouter(tags=["metrics"])


@router.get(METRICS_PATH, include_in_schema=False)
async def get_metrics(metrics: MetricsDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    return Response(await scrape(metrics, authorization), media_type=CONTENT_TYPE)
