from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ob.fake_mysql import FakeObserverSql

from pyobshell.observer_config import PID_RELATIVE_PATH, write_config
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.target import ObserverTarget


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ob_home(tmp_path: Path) -> Path:
    home = tmp_path / "ob"
    write_config(home, {"mysql_port": str(free_port()), "zone": "zone1"})
    return home


@pytest.fixture
def observer_process(ob_home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process recorded in OB_HOME/run/observer.pid (it stands in for the observer binary)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pid_file = ob_home / PID_RELATIVE_PATH
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{process.pid}\n")
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def target(ob_home: Path) -> ObserverTarget:
    from pyobshell.ob.target import load_observer_target

    return load_observer_target(ob_home, "127.0.0.1", "secret")


@pytest.fixture
def fake_sql(target: ObserverTarget) -> Iterator[FakeObserverSql]:
    fake = FakeObserverSql(target.host, target.sql_port, target.password)
    fake.start()
    yield fake
    fake.shutdown()


@pytest.fixture
def probe_pool(target: ObserverTarget) -> Iterator[ObConnectionPool]:
    pool = ObConnectionPool(target, PoolOptions(connect_timeout_s=1.0, max_idle=0))
    yield pool
    pool.close()
