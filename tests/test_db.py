"""Creating and migrating the cluster's tables (task store, package store, cluster tables) on
seekdb, a real OceanBase SQL engine: the server has nothing to warn about after any of the DDL
(``SHOW WARNINGS`` is empty), nor has SQLAlchemy or the store itself, and the catalog reads that
the migration relies on see OceanBase's columns and indexes as declared."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, event

from pyobshell.cluster import tables as cluster_tables
from pyobshell.engine import TaskStore
from pyobshell.engine.schema import StoreKind, build_tables
from pyobshell.engine.store import make_engine
from pyobshell.db import column_names, index_names
from pyobshell.upgrade.packages.schema import IDENTITY_INDEX, build_package_tables
from pyobshell.upgrade.packages.store import PackageStore

DDL = ("CREATE", "ALTER")


def all_metadata() -> list[MetaData]:
    return [build_tables(StoreKind.CLUSTER).metadata, build_package_tables().metadata, cluster_tables.metadata]


def drop_everything(url: str) -> None:
    engine = make_engine(url)
    try:
        for metadata in all_metadata():
            metadata.drop_all(engine)
    finally:
        engine.dispose()


def create_everything(url: str) -> None:
    """What an agent does when the cluster store opens: the task store, packages, cluster tables."""
    TaskStore(url, StoreKind.CLUSTER).close()
    engine = make_engine(url)
    try:
        PackageStore(engine).list()
        cluster_tables.ensure_tables(engine)
    finally:
        engine.dispose()


class ServerWarnings:
    """``SHOW WARNINGS`` after every DDL statement any engine sends, while installed."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.statements = 0

    def after_cursor_execute(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(DDL):
            return
        self.statements += 1
        check = cursor.connection.cursor()
        try:
            check.execute("SHOW WARNINGS")
            self.seen.extend((" ".join(statement.split()), tuple(row)) for row in check.fetchall())
        finally:
            check.close()


@pytest.fixture
def server_warnings() -> Iterator[ServerWarnings]:
    recorder = ServerWarnings()
    event.listen(Engine, "after_cursor_execute", recorder.after_cursor_execute)
    try:
        yield recorder
    finally:
        event.remove(Engine, "after_cursor_execute", recorder.after_cursor_execute)


@pytest.mark.seekdb
def test_creating_and_reopening_the_cluster_tables_warns_of_nothing(
        seekdb_url: str, server_warnings: ServerWarnings, caplog: pytest.LogCaptureFixture) -> None:
    drop_everything(seekdb_url)
    caplog.set_level(logging.WARNING, logger="pyobshell")
    with warnings.catch_warnings(record=True) as python_warnings:
        warnings.simplefilter("always")
        create_everything(seekdb_url)  # creates every table and index
        create_everything(seekdb_url)  # an agent restarting: migration on existing tables
    assert server_warnings.statements > 10
    assert server_warnings.seen == []
    assert [str(w.message) for w in python_warnings] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture(params=["sqlite", pytest.param("seekdb", marks=pytest.mark.seekdb)])
def created_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ocs.db'}"
    else:
        url = request.getfixturevalue("seekdb_url")
        drop_everything(url)
    create_everything(url)
    return url


def test_the_catalog_reads_see_the_declared_columns_and_indexes(created_url: str) -> None:
    engine = make_engine(created_url)
    try:
        with engine.connect() as conn:
            for metadata in all_metadata():
                for table in metadata.sorted_tables:
                    assert column_names(conn, table.name) == {c.name for c in table.columns}, table.name
                    assert index_names(conn, table.name) == {ix.name for ix in table.indexes}, table.name
            assert IDENTITY_INDEX in index_names(conn, "upgrade_pkg_info")
    finally:
        engine.dispose()
