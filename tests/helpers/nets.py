"""Every simulated network the suite uses, in one place.

A simulated host is 127.<net>.<zone>.<server>; two clusters on one net would collide. Modules
that start their own cluster get a fixed net below (pytest runs one module per worker, so a
module's nets are never shared); session-wide clusters, one per worker, take theirs from
``worker_net``, a range no module uses, so any number of workers fits.
"""

from __future__ import annotations

import os

SIM_CLUSTER, SIM_NEVER_STARTED, SIM_FOUR_SERVERS, SQLALCHEMY_ON_SIM = 11, 12, 13, 14
PRECHECKS, STATEMENT_CACHE = 16, 17
CLI_UPGRADE, CLI_UPGRADE_FAILURE = 21, 22
TASKS_UPGRADE, TASKS_FAILURE = 31, 32
API_END_TO_END, API_STOP_SERVICE, API_TWO_HOP, API_CHAIN, API_PRECHECK = 41, 42, 43, 44, 45
PACKAGES_ON_CLUSTER, STORE_FAILOVER, SDK_UPGRADE, SDK_STOP_SERVICE = 51, 52, 53, 54
AGENT_PROCESS, AGENT_RECOVERY, AGENT_OBSERVER_STATE, KILL_MATRIX = 61, 71, 73, 74
PACKAGE_STORE = 81
CLUSTER_DAGS, MAINTAINER_ELECTION = 92, 93
SIM_FIDELITY, SIM_ROLLING_END_AT_ONCE, SIM_ROLLING_END_WAITS = 101, 102, 103
MANUAL_UPGRADE, MANUAL_FAILURES = 201, 202
SIM_LOG_STREAMS, HANDOVER_UPGRADE, HANDOVER_STUCK, PROBE_SLOW_SQL = 111, 112, 113, 114
SIGNED_FUZZING, SLOW_CLIENTS = 231, 232
OPERATOR_GATES = 241
CONSOLE = 251  # the web console's browser tests
AUDIT = 252
UPGRADE_REPORT = 253  # the post-upgrade report's cluster test
METRICS = 254  # GET /metrics scraped during and after a rolling upgrade

# Per-worker session clusters: 120 + worker index, up to 79 workers (nets 120..198).
_WORKER_FIRST, _WORKER_LAST = 120, 198


def worker_net() -> int:
    """The net of this pytest-xdist worker's session-wide cluster (the engine tests' one)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    net = _WORKER_FIRST + index
    if net > _WORKER_LAST:
        raise RuntimeError(f"worker {worker}: no simulated net left (at most {_WORKER_LAST - _WORKER_FIRST + 1} workers)")
    return net


def fixed_nets() -> dict[str, int]:
    """The modules' fixed nets by name (for the registry's own test)."""
    return {name: value for name, value in globals().items() if name.isupper() and isinstance(value, int) and not name.startswith("_")}
