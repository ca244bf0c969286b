"""The cluster-mode tables beside the task store (``all_agent``, ``agent_token``) on SQLite and
on seekdb, a real OceanBase SQL engine: created twice harmlessly, an agent registered once and
refreshed in place, the first agent's token adopted by the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pyobshell.cluster import tables
from pyobshell.cluster.agent_registry import AgentRecord, AgentRegistry
from pyobshell.cluster.token import adopt_cluster_token
from pyobshell.engine import AgentInfo
from pyobshell.engine.store import make_engine
from pyobshell.security.agent_token import AgentToken


@pytest.fixture(params=["sqlite", pytest.param("seekdb", marks=pytest.mark.seekdb)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ocs.db'}")
    else:
        engine = make_engine(request.getfixturevalue("seekdb_url"))
        tables.metadata.drop_all(engine)
    try:
        tables.ensure_tables(engine)
        tables.ensure_tables(engine)  # a second agent starting: nothing to do
        yield engine
    finally:
        engine.dispose()


def test_an_agent_registers_once_and_is_refreshed_in_place(engine: Engine) -> None:
    registry = AgentRegistry(engine)
    registry.register(AgentRecord("10.0.0.2", 2886, zone="z2", version="4.2.1.0", pid=7, public_key="old"))
    registry.register(AgentRecord("10.0.0.1", 2886, zone="z1", pid=8))
    registry.register(AgentRecord("10.0.0.2", 2886, zone="z2", version="4.2.1.1", pid=9, public_key="new"))
    agents = registry.agents()
    assert [(a.ip, a.pid) for a in agents] == [("10.0.0.1", 8), ("10.0.0.2", 9)]
    found = registry.find(AgentInfo("10.0.0.2", 2886))
    assert found is not None and (found.version, found.public_key) == ("4.2.1.1", "new")
    assert registry.find(AgentInfo("10.0.0.3", 2886)) is None


def test_the_first_agents_token_is_the_clusters(engine: Engine, tmp_path: Path) -> None:
    first_home, second_home = tmp_path / "a1", tmp_path / "a2"
    first_home.mkdir()
    second_home.mkdir()
    first = adopt_cluster_token(engine, first_home)
    second = adopt_cluster_token(engine, second_home)
    assert second.matches(first.value)
    stored = AgentToken.load(second_home)
    assert stored is not None and stored.matches(first.value)


def test_heart_beats_count_up_per_agent(engine: Engine) -> None:
    registry = AgentRegistry(engine)
    registry.register(AgentRecord("10.0.0.1", 2886))
    registry.register(AgentRecord("10.0.0.2", 2886))
    registry.heartbeat(AgentInfo("10.0.0.1", 2886))
    registry.heartbeat(AgentInfo("10.0.0.1", 2886))
    registry.heartbeat(AgentInfo("10.0.0.9", 2886))  # not registered: nothing to count
    assert registry.heartbeats() == {AgentInfo("10.0.0.1", 2886): 2, AgentInfo("10.0.0.2", 2886): 0}
