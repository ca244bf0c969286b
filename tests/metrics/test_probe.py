"""The live SQL probe's samples become counters by kind, zone and result, and a latency histogram."""

from __future__ import annotations

import pytest

from pyobshell.errors import MYSQL_ERROR
from pyobshell.metrics import AgentMetrics, sample_observer
from pyobshell.ob import probe_sql
from pyobshell.ob.probe_sql import ProbeTarget
from pyobshell.upgrade.probe_stats import ProbeStats
from pyobshell.upgrade.sql_probe import ProbeRun
from tests.metrics.scrape import scraped, value

STATEMENTS = "pyobshell_sql_probe_statements_total"
LATENCY = "pyobshell_sql_probe_latency_seconds"


def fail_read(_pool: object, _zone: str) -> None:
    raise MYSQL_ERROR("(2013, 'Lost connection to MySQL server during query')")


def test_a_probe_round_feeds_the_counters_and_the_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    target = ProbeTarget("zone1", "127.0.0.9", 2881)
    monkeypatch.setattr(probe_sql, "probe_targets", lambda _sql: [target])
    monkeypatch.setattr(probe_sql, "create_probe_table", lambda _sql: None)
    monkeypatch.setattr(probe_sql, "write_probe", lambda *_args: None)
    monkeypatch.setattr(probe_sql, "read_probe", fail_read)
    metrics = AgentMetrics()
    stats = ProbeStats(dag_id=7, started_at_s=0.0)
    run = ProbeRun(object(), lambda: ("root@sys", "pw"), stats, sample_observer(metrics))  # type: ignore[arg-type]
    try:
        run.round(3, "Stop zone1")
        run.round(3, "Stop zone1")
    finally:
        run.close()
    found = scraped(metrics)
    assert value(found, STATEMENTS, kind="write", zone="zone1", result="ok") == 2
    assert value(found, STATEMENTS, kind="read", zone="zone1", result="error") == 2
    assert value(found, LATENCY + "_count", kind="write") == 2
    assert value(found, LATENCY + "_count", kind="read") is None  # a failure's time is no latency
    assert stats.total.samples == 4  # the probe's own report counts the same samples
