"""Node durations: the engine tells each node's end (``engine.observers``), the histogram counts it.

Only the scheduler that finished a node hears of it: the local engine for this agent's own
DAGs, and for cluster DAGs the maintainer's. Summed over the agents of a cluster, the count is
the number of nodes finished, whoever was the maintainer at the time.
"""

from __future__ import annotations

from pyobshell.engine import FinishedNode, NodeObserver
from pyobshell.metrics.definitions import AgentMetrics


def node_observer(metrics: AgentMetrics) -> NodeObserver:
    def finished(node: FinishedNode) -> None:
        metrics.node_seconds.labels(node.name, node.state.name).observe(node.seconds)

    return finished
