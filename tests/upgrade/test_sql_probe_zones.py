"""The SQL probe's rounds: each zone is probed on its own, so an observer that answers slowly
holds back its own zone's next statements only; every sample still out is filed at close."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from pyobshell.ob import probe_sql
from pyobshell.ob.probe_sql import ProbeTarget
from pyobshell.upgrade.probe_stats import ProbeStats
from pyobshell.upgrade.sql_probe import ProbeRun

SLOW = ProbeTarget("zone1", "127.0.0.1", 2881)
FAST = ProbeTarget("zone2", "127.0.0.2", 2881)


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch):
    """Fake statements: the slow zone's first write waits until the test releases it."""
    release, calls = threading.Event(), Counter()

    def write(pool, zone, counter, now_us) -> None:
        calls[(zone, "write")] += 1
        if zone == SLOW.zone:
            assert release.wait(10)

    def read(pool, zone) -> int:
        calls[(zone, "read")] += 1
        return 1

    monkeypatch.setattr(probe_sql, "probe_targets", lambda sql: [SLOW, FAST])
    monkeypatch.setattr(probe_sql, "create_probe_table", lambda sql: None)
    monkeypatch.setattr(probe_sql, "write_probe", write)
    monkeypatch.setattr(probe_sql, "read_probe", read)
    return release, calls


def wait_for_reads(calls: Counter, zone: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while calls[(zone, "read")] < count:
        assert time.monotonic() < deadline, calls
        time.sleep(0.005)


def test_a_slow_observer_holds_back_only_its_own_zone(probed) -> None:
    release, calls = probed
    stats = ProbeStats(7, time.time())
    run = ProbeRun(cluster=None, credentials=lambda: ("root@sys", "pw"), stats=stats)  # type: ignore[arg-type]
    try:
        for pair in range(1, 6):
            run.round(9, "Stop zone1")
            wait_for_reads(calls, FAST.zone, pair)  # the fast zone's pair of this round answered
        assert calls[(SLOW.zone, "write")] == 1  # its first write is still out: no second one was sent
        assert calls[(FAST.zone, "write")] == 5
        run.round(9, "Stop zone1")
        assert stats.zones[FAST.zone].samples >= 10 and SLOW.zone not in stats.zones
    finally:
        release.set()
        run.close()
    assert stats.zones[SLOW.zone].samples == 2  # filed when it answered, before close returned
    assert stats.total.errors == 0
