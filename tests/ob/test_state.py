from __future__ import annotations

import asyncio
from pathlib import Path

from tests.ob.fake_mysql import FakeObserverSql

from pyobshell.observer_config import PID_RELATIVE_PATH
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.process import observer_pid
from pyobshell.ob.state import ObState, probe_ob_state


def test_no_pid_file_means_not_running(probe_pool: ObConnectionPool) -> None:
    assert probe_ob_state(probe_pool) == ObState.NOT_RUNNING


def test_dead_pid_means_not_running(ob_home: Path, probe_pool: ObConnectionPool) -> None:
    pid_file = ob_home / PID_RELATIVE_PATH
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text("999999999\n")
    assert observer_pid(ob_home) is None
    assert probe_ob_state(probe_pool) == ObState.NOT_RUNNING


def test_process_without_sql_is_running(observer_process: object, probe_pool: ObConnectionPool) -> None:
    assert probe_ob_state(probe_pool, timeout_s=1.0) == ObState.RUNNING


def test_available_and_restricted(observer_process: object, fake_sql: FakeObserverSql, probe_pool: ObConnectionPool) -> None:
    assert probe_ob_state(probe_pool) == ObState.AVAILABLE
    fake_sql.mode = "restricted"
    assert probe_ob_state(probe_pool) == ObState.RESTRICTED


def test_monitor_follows_the_observer_and_notifies(
    observer_process: object, fake_sql: FakeObserverSql, probe_pool: ObConnectionPool
) -> None:
    changes: list[tuple[ObState, ObState]] = []

    async def scenario() -> list[ObState]:
        monitor = ObStateMonitor(probe_pool, interval_s=0.05)
        monitor.add_listener(lambda old, new: changes.append((old, new)))
        seen = [await monitor.refresh()]
        version = monitor.ob_version
        fake_sql.stop()
        seen.append(await monitor.refresh())
        fake_sql.start()
        monitor.start()
        for _ in range(200):  # the background loop must notice the observer is back
            if monitor.state == ObState.AVAILABLE:
                break
            await asyncio.sleep(0.05)
        seen.append(monitor.state)
        await monitor.stop()
        return seen + [version]

    assert asyncio.run(scenario()) == [ObState.AVAILABLE, ObState.RUNNING, ObState.AVAILABLE, "4.2.1.1"]
    assert changes == [
        (ObState.NOT_RUNNING, ObState.AVAILABLE),
        (ObState.AVAILABLE, ObState.RUNNING),
        (ObState.RUNNING, ObState.AVAILABLE),
    ]


def test_recent_state_reuses_a_young_probe_and_shares_a_new_one(
    observer_process: object, fake_sql: FakeObserverSql, probe_pool: ObConnectionPool
) -> None:
    probes: list[float] = []
    monitor = ObStateMonitor(probe_pool, interval_s=60)
    real_refresh = monitor.refresh

    async def counting_refresh(timeout_s: float = 2.0) -> ObState:
        probes.append(timeout_s)
        return await real_refresh(timeout_s)

    monitor.refresh = counting_refresh  # type: ignore[method-assign]

    async def scenario() -> list[ObState]:
        first = await asyncio.gather(*(monitor.recent_state(1.0) for _ in range(5)))  # one probe for all
        fake_sql.stop()
        cached = await monitor.recent_state(1.0)  # younger than the interval: no new session
        fresh = await monitor.recent_state(1.0, max_age_s=0)
        return [*first, cached, fresh]

    states = asyncio.run(scenario())
    assert states == [ObState.AVAILABLE] * 6 + [ObState.RUNNING]
    assert probes == [1.0, 1.0]
