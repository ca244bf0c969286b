"""Root test configuration: the fixtures many test packages share (a key pair, a clock moved by
hand). It also provides the real OceanBase SQL engine of the ``seekdb`` tier: store tests take the
``seekdb_url`` fixture through a backend parameter marked ``seekdb``."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from pyobshell.security.keypair import AgentKeyPair
from tests.helpers.clock import FakeClock
from tests.helpers.pgp_keys import TestKey, make_key
from tests.helpers.seekdb import SeekdbUnavailable, running_seekdb

MYSQL_URL_ENV = "PYOBSHELL_TEST_MYSQL_URL"  # e.g. mysql+pymysql://root:pw@127.0.0.1:2881/ocs
STORE_DATABASE = "ocs"


def _create_database(url: str) -> None:
    admin = create_engine(make_url(url)._replace(database=None), poolclass=NullPool)  # URL.set keeps a None
    try:
        with admin.begin() as conn:
            name = conn.dialect.identifier_preparer.quote_identifier(make_url(url).database or STORE_DATABASE)
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {name}")
    finally:
        admin.dispose()


def _per_worker(url: str) -> str:
    """Under pytest-xdist, each worker gets its own database on a shared server (``ocs_gw1``),
    since the store tests drop and create their tables."""
    parsed = make_url(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    database = parsed.database or STORE_DATABASE
    return parsed.set(database=f"{database}_{worker}" if worker else database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def seekdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ``ocs`` database on a real OceanBase SQL engine: the server ``PYOBSHELL_TEST_MYSQL_URL``
    names, else a seekdb started for this session (skipped, with the reason, where it cannot run)."""
    given = os.environ.get(MYSQL_URL_ENV)
    if given:
        url = _per_worker(given)
        _create_database(url)
        yield url
        return
    base_dir = tmp_path_factory.mktemp("seekdb")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_seekdb(base_dir))
        except SeekdbUnavailable as exc:
            pytest.skip(f"seekdb cannot run here: {exc}")
        url = server.url(STORE_DATABASE)
        _create_database(url)
        yield url
    shutil.rmtree(base_dir / "store", ignore_errors=True)  # its data (~180 MB); the logs stay


@pytest.fixture(scope="session")
def key_pair() -> AgentKeyPair:
    """One agent key pair per test session (generating one is the slow part)."""
    return AgentKeyPair.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    """A package signing key, made for this test session (a second or two of RSA key generation)."""
    return make_key(tmp_path_factory.mktemp("pgp"), "Package Builder <builder@example.com>")


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    """Another signing key, never in the trusted keyring."""
    return make_key(tmp_path_factory.mktemp("pgp-other"), "Somebody Else <else@example.com>")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that start processes first: the two workers take whole modules in this order, and
    a long multi-process module picked up last would leave the other worker idle at the end."""
    heavy = {item.path for item in items if item.get_closest_marker("multiprocess") is not None}
    items.sort(key=lambda item: item.path not in heavy)  # stable: a module's tests keep their order
