"""Who hears that a node finished: a small hook for figures (metrics) kept outside the engine.

The advancer decides a node's end inside a transaction that may be made again (a lost
connection, a deadlock) or given up; observers hear of it only after that transaction
committed, once per node end, from the scheduler's thread. They must be quick and must not
raise (what they raise is logged and dropped: a figure never stops a DAG).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pyobshell.engine.model import State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinishedNode:
    dag_id: int
    name: str  # the node's template name ("Stop zone1", "Execute upgrade pre script")
    state: State  # SUCCEED or FAILED
    seconds: float  # from the node's start to its end


NodeObserver = Callable[[FinishedNode], None]


def node_seconds(start: datetime | None, end: datetime | None) -> float:
    """How long a node ran (0 when a time is missing or the clock stepped back)."""
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds())


class NodeObservers:
    """The observers of one advancer (thread-safe: added from the event loop, called from the
    scheduler's thread)."""

    def __init__(self) -> None:
        self._observers: list[NodeObserver] = []
        self._lock = threading.Lock()

    def add(self, observer: NodeObserver) -> None:
        with self._lock:
            self._observers.append(observer)

    def notify(self, nodes: Iterable[FinishedNode]) -> None:
        with self._lock:
            observers = list(self._observers)
        for node in nodes:
            for observer in observers:
                try:
                    observer(node)
                except Exception:  # noqa: BLE001 - a figure must never stop the scheduler
                    log.exception("node observer failed for node %r of DAG %d", node.name, node.dag_id)
