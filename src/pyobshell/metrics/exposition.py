"""One scrape: the access check, then the registry in Prometheus's text format.

Writing the text calls every collector, and the task figures query the stores: that runs in a
worker thread, so a slow store never holds up the agent's event loop.
"""

from __future__ import annotations

import anyio.to_thread
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from pyobshell.errors import ObshellError
from pyobshell.metrics.access import check_access
from pyobshell.metrics.definitions import AgentMetrics

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the classic text format: every Prometheus version reads it


async def scrape(metrics: AgentMetrics, authorization: str | None) -> bytes:
    """The text exposition, or ``Security.Authentication.Metrics.IncorrectToken`` (counted as a refusal)."""
    try:
        check_access(metrics.token, authorization)
    except ObshellError as err:
        metrics.refused(err.code)
        raise
    return await anyio.to_thread.run_sync(generate_latest, metrics.registry)
