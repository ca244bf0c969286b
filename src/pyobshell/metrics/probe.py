"""The live SQL probe's samples as counters and a latency histogram.

The probe runs on the maintainer only, while an upgrade DAG runs (``upgrade.sql_probe``); its
success rate is ``rate(..{result="ok"}) / rate(..)`` of the counter, over any window a
dashboard likes, rather than one fixed window of the agent's choosing.
"""

from __future__ import annotations

from pyobshell.metrics.definitions import AgentMetrics
from pyobshell.upgrade.probe_stats import Sample
from pyobshell.upgrade.sql_probe import SampleObserver

OK, ERROR = "ok", "error"


def sample_observer(metrics: AgentMetrics) -> SampleObserver:
    def counted(sample: Sample) -> None:
        metrics.probe_statements.labels(sample.kind, sample.zone, OK if sample.ok else ERROR).inc()
        if sample.ok:  # a failed statement's time is its timeout, not a latency
            metrics.probe_seconds.labels(sample.kind).observe(sample.latency_ms / 1000.0)

    return counted
