"""Every metric an agent keeps itself, on the agent's own registry.

Each agent has its own :class:`~prometheus_client.CollectorRegistry`, never the library's
global one: tests run several agents in one process, and each must show its own figures. The
figures read from the task stores at scrape time are a collector of their own
(:mod:`.figures`), added to the same registry by the agent's wiring.

Labels are bounded on purpose: routes are templates (``/api/v1/task/dag/{id}``), never raw
paths; node names come from DAG templates; zones are the cluster's; no client address or
credential is ever a label.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

# Seconds. A node runs from milliseconds (a stage hand-off) to an hour (an upgrade script).
NODE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GAINED, LOST = "gained", "lost"


class AgentMetrics:
    """The agent's instruments; ``token``, when set, is what ``/metrics`` requires (:mod:`.access`)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or None
        self.registry = CollectorRegistry()
        registry = self.registry
        self.http_requests = Counter(
            "pyobshell_http_requests", "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"], registry=registry)
        self.http_seconds = Histogram(
            "pyobshell_http_request_duration_seconds", "Time from a request's arrival to the end of its answer",
            ["route", "method"], registry=registry, buckets=HTTP_BUCKETS)
        self.auth_refusals = Counter(
            "pyobshell_auth_refusals", "Requests refused by authentication, by obshell errCode",
            ["err_code"], registry=registry)
        self.auth_lockouts = Counter(
            "pyobshell_auth_lockouts", "Client addresses locked out after repeated distinct wrong credentials",
            registry=registry)
        self.node_seconds = Histogram(
            "pyobshell_dag_node_duration_seconds", "Duration of DAG nodes this agent's schedulers finished",
            ["node", "state"], registry=registry, buckets=NODE_BUCKETS)
        self.probe_statements = Counter(
            "pyobshell_sql_probe_statements", "Statements the live SQL probe sent, by kind, zone and result",
            ["kind", "zone", "result"], registry=registry)
        self.probe_seconds = Histogram(
            "pyobshell_sql_probe_latency_seconds", "Latency of the live SQL probe's successful statements",
            ["kind"], registry=registry, buckets=PROBE_BUCKETS)
        self.maintainer_changes = Counter(
            "pyobshell_maintainer_changes", "Times this agent became (gained) or stopped being (lost) the maintainer",
            ["change"], registry=registry)
        for change in (GAINED, LOST):  # both series exist from the start: rate() needs a zero
            self.maintainer_changes.labels(change)

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    # -- what the other layers report ------------------------------------------------------
    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_seconds.labels(route, method).observe(seconds)

    def refused(self, err_code: str) -> None:
        self.auth_refusals.labels(err_code).inc()

    def locked_out(self, _address: str) -> None:
        """A lock-out listener (``security.lockout``): the address is never a label."""
        self.auth_lockouts.inc()

    def maintainer_role(self, maintainer: bool) -> None:
        """A role listener (``cluster.coordinator``)."""
        self.maintainer_changes.labels(GAINED if maintainer else LOST).inc()
