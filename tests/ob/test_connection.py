from __future__ import annotations

import asyncio

import pytest
from tests.ob.fake_mysql import FakeObserverSql

from pyobshell.errors import ObshellError
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.ob.target import ObserverTarget


def test_query_returns_dict_rows_and_reuses_connections(target: ObserverTarget, fake_sql: FakeObserverSql) -> None:
    pool = ObConnectionPool(target)
    try:
        assert pool.query("SHOW DATABASES") == [{"Database": "oceanbase"}, {"Database": "ocs"}]
        assert pool.query_one("SELECT 1") == {"1": 1}
        assert len(pool._idle) == 1  # one connection served both statements
    finally:
        pool.close()


def test_statement_error_is_mysql_error_and_keeps_connection(target: ObserverTarget, fake_sql: FakeObserverSql) -> None:
    pool = ObConnectionPool(target)
    try:
        with pytest.raises(ObshellError) as caught:
            pool.query("SELECT nonsense")
        assert caught.value.code == "MySQL.Error" and caught.value.status == 400
        assert "unsupported statement" in caught.value.message
        assert len(pool._idle) == 1
    finally:
        pool.close()


def test_no_server_is_a_not_connected_error(target: ObserverTarget) -> None:
    pool = ObConnectionPool(target)
    with pytest.raises(ObshellError) as caught:
        pool.query("SELECT 1")
    assert caught.value.error_code is OB_NOT_CONNECTED
    assert f"{target.host}:{target.sql_port}" in caught.value.message


def test_pool_survives_the_observer_going_away_and_coming_back(target: ObserverTarget, fake_sql: FakeObserverSql) -> None:
    pool = ObConnectionPool(target)
    try:
        assert pool.query_one("SELECT 1") == {"1": 1}
        fake_sql.stop()
        with pytest.raises(ObshellError) as caught:
            pool.query_one("SELECT 1")
        assert caught.value.error_code is OB_NOT_CONNECTED
        assert pool._idle == []  # the broken connection was thrown away
        fake_sql.start()
        assert pool.query_one("SELECT 1") == {"1": 1}
    finally:
        pool.close()


def test_async_query_runs_off_the_event_loop(target: ObserverTarget, fake_sql: FakeObserverSql) -> None:
    pool = ObConnectionPool(target)

    async def main() -> tuple[list[dict[str, object]], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        rows = await pool.aquery("SHOW DATABASES")
        task.cancel()
        return rows, ticks

    try:
        rows, ticks = asyncio.run(main())
        assert len(rows) == 2
        assert ticks > 0  # the loop kept running while the query was in flight
    finally:
        pool.close()
