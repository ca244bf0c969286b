"""The instruments the other layers report to: maintainer role changes."""

from __future__ import annotations

from pyobshell.metrics import AgentMetrics
from tests.metrics.scrape import scraped, value

CHANGES = "pyobshell_maintainer_changes_total"


def test_role_changes_are_counted_gained_and_lost_from_zero() -> None:
    metrics = AgentMetrics()
    assert (value(scraped(metrics), CHANGES, change="gained"), value(scraped(metrics), CHANGES, change="lost")) == (0, 0)
    for maintainer in (True, False, True):  # the coordinator's role listener
        metrics.maintainer_role(maintainer)
    found = scraped(metrics)
    assert (value(found, CHANGES, change="gained"), value(found, CHANGES, change="lost")) == (2, 1)
