"""AgentTasks in process: task modules from the environment, the cluster store URL, opening the
cluster store when obState becomes AVAILABLE (with retries), and a clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pyobshell.agent.tasks import (
    TASK_MODULES_ENV,
    AgentTasks,
    TaskModuleError,
    cluster_store_url,
    load_task_modules,
    task_module_names,
)
from pyobshell.engine import DEFAULT_REGISTRY, AgentInfo, StoreKind, TaskStore, encode_local_id
from pyobshell.ob.state import ObState
from pyobshell.ob.target import ObserverTarget

OWNER = AgentInfo("10.1.2.3", 2886)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_task_module_names_are_comma_separated() -> None:
    assert task_module_names({TASK_MODULES_ENV: " a.b , c,, "}) == ["a.b", "c"]
    assert task_module_names({}) == []


def test_task_modules_register_their_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        "from pyobshell.engine import Task, register_task_type\n\n"
        f"@register_task_type\nclass {module.title()}Type(Task):\n    def execute(self):\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert f"{module.title()}Type" not in DEFAULT_REGISTRY
    assert load_task_modules({TASK_MODULES_ENV: f"json, {module}"}) == ["json", module]
    assert f"{module.title()}Type" in DEFAULT_REGISTRY
    assert load_task_modules({TASK_MODULES_ENV: module}) == [module]  # a second load is harmless


@pytest.mark.parametrize(("modules", "fragment"), [
    ("no_such_module_xyz", "ModuleNotFoundError"),
    ("json,no_such_module_xyz", "no_such_module_xyz"),
])
def test_a_module_that_cannot_be_imported_is_one_clear_error(modules: str, fragment: str) -> None:
    with pytest.raises(TaskModuleError) as info:
        load_task_modules({TASK_MODULES_ENV: modules})
    message = str(info.value)
    assert TASK_MODULES_ENV in message and fragment in message and "\n" not in message


def test_cluster_store_url_quotes_user_and_password() -> None:
    target = ObserverTarget(ob_home=Path("/nonexistent"), host="127.0.0.9", sql_port=2881)
    url = make_url(cluster_store_url(target, "p@ss:w/rd%?"))
    assert (url.drivername, url.username, url.password) == ("mysql+pymysql", "root@sys", "p@ss:w/rd%?")
    assert (url.host, url.port, url.database) == ("127.0.0.9", 2881, "ocs")
    assert make_url(cluster_store_url(target, "x", database=None)).database is None


class FlakyOpener:
    """Fails ``failures`` times, then opens a SQLite cluster store."""

    def __init__(self, path: Path, failures: int):
        self.path = path
        self.failures = failures
        self.calls = 0

    def __call__(self) -> TaskStore:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("observer went away")
        return TaskStore(f"sqlite:///{self.path}", StoreKind.CLUSTER, owner=OWNER)


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_cluster_store_opens_when_ob_is_available_and_retries(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyobshell.agent.tasks.OPEN_RETRY_FIRST_S", 0.01)
    opener = FlakyOpener(tmp_path / "cluster.db", failures=2)
    tasks = AgentTasks.for_agent(tmp_path / "local.db", OWNER, opener)
    await tasks.start()
    try:
        tasks.on_ob_state(ObState.NOT_RUNNING, ObState.RUNNING)
        await asyncio.sleep(0.05)
        assert opener.calls == 0 and tasks.services.cluster is None
        tasks.on_ob_state(ObState.RUNNING, ObState.AVAILABLE)
        tasks.on_ob_state(ObState.AVAILABLE, ObState.AVAILABLE)  # a second signal starts no second opener
        await wait_until(lambda: tasks.services.cluster is not None)
        assert opener.calls == 3
        assert tasks.services.for_id("17") is tasks.services.cluster
        assert tasks.services.for_id(encode_local_id(7, OWNER)) is tasks.services.local
        assert tasks.under_maintenance() is False
    finally:
        await tasks.stop()


@pytest.mark.anyio
async def test_stop_ends_an_opener_still_retrying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyobshell.agent.tasks.OPEN_RETRY_FIRST_S", 0.01)
    opener = FlakyOpener(tmp_path / "cluster.db", failures=10**6)
    tasks = AgentTasks.for_agent(tmp_path / "local.db", OWNER, opener)
    await tasks.start()
    tasks.on_ob_state(ObState.RUNNING, ObState.AVAILABLE)
    await wait_until(lambda: opener.calls >= 2)
    await asyncio.wait_for(tasks.stop(), timeout=10)
    calls = opener.calls
    await asyncio.sleep(0.05)
    assert opener.calls == calls and tasks.services.cluster is None


@pytest.mark.anyio
async def test_no_retry_once_ob_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyobshell.agent.tasks.OPEN_RETRY_FIRST_S", 0.05)
    opener = FlakyOpener(tmp_path / "cluster.db", failures=10**6)
    tasks = AgentTasks.for_agent(tmp_path / "local.db", OWNER, opener)
    await tasks.start()
    try:
        tasks.on_ob_state(ObState.RUNNING, ObState.AVAILABLE)
        await wait_until(lambda: opener.calls >= 1)
        tasks.on_ob_state(ObState.AVAILABLE, ObState.RUNNING)
        await asyncio.sleep(0.3)
        assert opener.calls <= 2
    finally:
        await tasks.stop()
