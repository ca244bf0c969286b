"""Engine test fixtures: store targets (SQLite local/cluster, the simulated cluster's ``ocs``, and
``ocs`` on a real OceanBase SQL engine, seekdb)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.engine import engine_helpers
from tests.helpers import nets
from tests.helpers.sim import sim_cluster
from tests.engine.engine_helpers import StoreTarget
from pyobshell.engine.schema import StoreKind, build_tables

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def fresh_script() -> Iterator[engine_helpers.Script]:
    engine_helpers.SCRIPT.__init__()  # type: ignore[misc]
    yield engine_helpers.SCRIPT
    engine_helpers.SCRIPT.release.set()


def _reset_mysql(url: str) -> None:
    engine = create_engine(url)
    try:
        for kind in StoreKind:
            build_tables(kind).metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def cluster_store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `ocs` database of a simulated OceanBase."""
    password = "enginepw"
    with sim_cluster(tmp_path_factory.mktemp("engine-sim") / "c", net=nets.worker_net(), zones=1, password=password) as document:
        ip = document["observers"][0]["ip"]
        admin = create_engine(f"mysql+pymysql://root%40sys:{password}@{ip}:2881/oceanbase")
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS ocs")
        admin.dispose()
        yield f"mysql+pymysql://root%40sys:{password}@{ip}:2881/ocs"


MYSQL_TARGETS = {"mysql-cluster": "cluster_store_url", "seekdb-cluster": "seekdb_url"}
CLUSTER_TARGETS = ["sqlite-cluster", pytest.param("mysql-cluster", marks=pytest.mark.multiprocess),
                   pytest.param("seekdb-cluster", marks=pytest.mark.seekdb)]


def _target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    if request.param in MYSQL_TARGETS:
        url = request.getfixturevalue(MYSQL_TARGETS[request.param])
        _reset_mysql(url)
        return StoreTarget(url, StoreKind.CLUSTER)
    kind = StoreKind.LOCAL if request.param == "sqlite-local" else StoreKind.CLUSTER
    return StoreTarget(f"sqlite:///{tmp_path / 'tasks.db'}", kind)


@pytest.fixture(params=["sqlite-local", *CLUSTER_TARGETS])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """Every engine behaviour runs against each store: SQLite, the simulated cluster's `ocs`, and
    `ocs` on seekdb (a real OceanBase SQL engine)."""
    return _target(request, tmp_path)


# The simulator is left out: it has no SAVEPOINT, which taking a tenant lock uses (SQLite and
# OceanBase have it).
@pytest.fixture(params=["sqlite-cluster", pytest.param("seekdb-cluster", marks=pytest.mark.seekdb)])
def cluster_target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """What only the cluster store has (tenant locks), against SQLite and seekdb."""
    return _target(request, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tasks.db'}"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    # Workers may take a moment to notice an interrupt; the check is only that none hang.
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("pyobshell-task"):
            thread.join(timeout=5)
            assert not thread.is_alive(), f"task thread {thread.name} still running"
