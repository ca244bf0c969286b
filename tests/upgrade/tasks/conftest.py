"""Fixtures for the upgrade task tests: a fake observer and a task environment installed for
one agent (every test starts and ends with none installed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.upgrade.tasks.task_fakes import AGENT, FAST, FakeObserver

from pyobshell.upgrade import environment as task_environment
from pyobshell.upgrade.environment import TaskEnvironment


@pytest.fixture(autouse=True)
def no_installed_environment() -> Iterator[None]:
    task_environment.uninstall()
    yield
    task_environment.uninstall()


@pytest.fixture
def observer() -> FakeObserver:
    return FakeObserver()


@pytest.fixture
def ob_home(tmp_path: Path) -> Path:
    home = tmp_path / "oceanbase"
    home.mkdir()
    return home


@pytest.fixture
def make_env(tmp_path: Path, observer: FakeObserver, ob_home: Path) -> Callable[..., TaskEnvironment]:
    def build(**overrides: Any) -> TaskEnvironment:
        values: dict[str, Any] = dict(
            agent=AGENT, home=tmp_path / "agent", ob_home=ob_home, observer_ip="127.0.0.1", sql_port=2881,
            rpc_port=2882, query=observer.query, execute=observer.execute,
            package_store=lambda: pytest.fail("this test has no package store"), root_password="pw'1",
            arch="x86_64", timings=FAST)
        values.update(overrides)
        return task_environment.install(TaskEnvironment(**values))
    return build
