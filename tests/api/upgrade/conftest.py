"""The agent app in process: real request verification, a SQLite package store, fixed
cluster facts (the observer side is replaced through FastAPI dependency overrides)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pyobshell.api import dependencies
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.api.dependencies import UploadSettings
from pyobshell.api.state import AgentState
from pyobshell.client import ObshellClient
from pyobshell.engine.model import AgentInfo
from pyobshell.engine.store import make_engine
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.upgrade.stages import ZoneAgents
from pyobshell.upgrade.packages.store import PackageStore
from pyobshell.upgrade.service import UpgradeService
from pyobshell.upgrade.plan import ClusterFacts
from pyobshell.versions import BuildVersion

ROOT_PASSWORD = "pkg-root-pw"
BASE = "http://testserver"
MAX_UPLOAD_BYTES = 256 * 1024
CURRENT = "4.2.1.0_100000012023101010-0123abcd(Oct 10 2023 10:10:10)"


def zones(count: int = 3) -> tuple[ZoneAgents, ...]:
    return tuple(ZoneAgents(f"zone{z}", (AgentInfo(f"127.0.{z}.1", 2886),)) for z in range(1, count + 1))


def facts(current: str = CURRENT, zone_count: int = 3, arches: tuple[str, ...] = ("x86_64",)) -> ClusterFacts:
    return ClusterFacts(current=BuildVersion.parse(current).version, zones=zones(zone_count), arches=arches)


@dataclass
class Cluster:
    """What the plan route reads from the observer; tests change ``facts``."""

    facts: ClusterFacts


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PackageStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'packages.db'}")
    yield PackageStore(engine, chunk_size=4096)  # several chunks even for small packages
    engine.dispose()


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(facts())


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "upload"


@pytest.fixture
def app(tmp_path: Path, key_pair: AgentKeyPair, store: PackageStore, cluster: Cluster, upload_dir: Path) -> FastAPI:
    security = AgentSecurity.create(key_pair, root_check=lambda pw: pw == ROOT_PASSWORD)
    state = AgentState(ip="127.0.0.1", port=2886, home=tmp_path / "home", public_key=key_pair.public_key_b64,
                       security=security, package_store=lambda: store)
    # No observer here: the plan reads the facts the test sets; nothing may start an upgrade.
    state.upgrade = UpgradeService(lambda: cluster.facts, NoObserver(), lambda: store, lambda: None, no_statuses)
    app = create_app(state)
    app.dependency_overrides[dependencies.upload_settings] = lambda: UploadSettings(upload_dir, MAX_UPLOAD_BYTES)
    return app


class NoObserver:
    """An ``ob.sql.Sql`` that refuses: the in-process tests have no observer."""

    def query(self, sql: str, args=None) -> list[dict]:
        raise AssertionError(f"no observer in this test: {sql}")

    execute = query


async def no_statuses() -> dict:
    return {}


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def agent(http: TestClient) -> ObshellClient:
    return ObshellClient(BASE, password=ROOT_PASSWORD, http_client=http)


def assert_nothing_stored(store: PackageStore, upload_dir: Path) -> None:
    assert store.list() == []
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.tables.chunk)).scalar_one() == 0
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []  # no temporary file left
