"""Polled task reads are reused until something is committed to the store, from anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from tests.engine.engine_helpers import OWNER, Step, make_registry
from pyobshell.engine import TaskService, TaskStore, TemplateBuilder
from pyobshell.engine.model import State
from pyobshell.engine.read_cache import ReadCache, data_version_watch
from pyobshell.engine.schema import StoreKind


def _service(url: str) -> TaskService:
    return TaskService(TaskStore(url, StoreKind.LOCAL, owner=OWNER), make_registry())


def _two_steps() -> TemplateBuilder:
    return TemplateBuilder("cached").add_task(Step(name="one")).add_task(Step(name="two"))


def test_a_dag_read_is_reused_until_another_connection_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    service = _service(url)
    gid = service.create_dag(_two_steps().build()).id
    first = service.get_dag(gid)
    assert service.get_dag(gid) is first  # nothing committed: the same answer
    assert service.get_dag(gid, show_details=False) is not first  # another view, its own entry

    other = TaskStore(url, StoreKind.LOCAL, owner=OWNER)  # as another process would write
    try:
        with other.transaction() as conn:
            conn.execute(update(other.tables.dag).values(state=int(State.FAILED)))
    finally:
        other.close()
    fresh = service.get_dag(gid)
    assert fresh is not first and fresh.state == "FAILED" and first.state == "READY"
    service.store.close()


def test_a_write_through_the_same_store_is_seen_at_once(tmp_path: Path) -> None:
    service = _service(f"sqlite:///{tmp_path / 'store.db'}")
    gid = service.create_dag(_two_steps().build()).id
    before = service.get_dag(gid, show_details=False)
    with service.store.transaction() as conn:
        conn.execute(update(service.store.tables.dag).values(stage=2))
    after = service.get_dag(gid, show_details=False)
    assert after is not before and (before.stage, after.stage) == (1, 2)
    service.store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql+pymysql://u:p@127.0.0.1:1/ocs"])
def test_stores_that_cannot_be_watched_are_never_cached(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        assert data_version_watch(engine) is None
    finally:
        engine.dispose()
    cache: ReadCache[list[int]] = ReadCache(None)
    assert cache.get_or_build("k", lambda: [1]) is not cache.get_or_build("k", lambda: [1])


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    store = TaskStore(f"sqlite:///{tmp_path / 'store.db'}", StoreKind.LOCAL, owner=OWNER)
    cache: ReadCache[object] = ReadCache(store.change_watch, max_entries=2)
    kept = [cache.get_or_build(key, object) for key in ("a", "b", "c")]
    assert cache.get_or_build("c", object) is kept[2] and cache.get_or_build("b", object) is kept[1]
    assert cache.get_or_build("a", object) is not kept[0]  # the least recently used went first
    cache.close()
    store.close()
