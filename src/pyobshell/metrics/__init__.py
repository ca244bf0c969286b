"""The agent's Prometheus metrics (``GET /metrics``), written with ``prometheus-client``.

One concept per module: :mod:`.definitions` (the per-agent registry and its instruments),
:mod:`.figures` (what is read from the task stores at scrape time), :mod:`.progress` (node
durations from the engine), :mod:`.probe` (the live SQL probe's samples), :mod:`.access` (the
optional bearer token), :mod:`.exposition` (one scrape). The HTTP figures are counted by
``api.metrics_middleware``; ``agent.wiring`` connects the rest.
"""

from pyobshell.metrics.access import TOKEN_ENV, configured_token
from pyobshell.metrics.definitions import AgentMetrics
from pyobshell.metrics.exposition import CONTENT_TYPE, scrape
from pyobshell.metrics.figures import TaskFigures
from pyobshell.metrics.probe import sample_observer
from pyobshell.metrics.progress import node_observer

__all__ = ["CONTENT_TYPE", "TOKEN_ENV", "AgentMetrics", "TaskFigures", "configured_token", "node_observer",
           "sample_observer", "scrape"]
