"""A throwaway seekdb server, so the store's SQL is checked on a real OceanBase SQL engine.

PyPI's ``pylibseekdb`` wheel ships ``seekdb``, OceanBase's SQL engine as a single-node server
(MySQL mode, user ``root`` with an empty password, databases ``test`` and ``oceanbase``).
The simulator only runs the statements it knows on SQLite; seekdb parses, plans and locks
them as OceanBase does (DDL table options, ``FOR UPDATE``, deadlock and lock-wait errors).

Facts this module relies on (pylibseekdb 1.4.0.post1):

* the binary is ``pylibseekdb/seekdb`` inside site-packages; it links the wheel's own
  ``libaio.so.1`` (beside it), so the package's directories (with ``pylibseekdb.libs/``, the
  wheel's other libraries) go on ``LD_LIBRARY_PATH``;
* ``--nodaemon`` keeps it in the foreground, so the process we start is the server;
  ``--base-dir`` holds its data (about 180 MB), redo and logs (``log/seekdb.log``);
* ``memory_limit`` is only accepted for compatibility since 1.4 (its own parameter help says
  it is ignored); ``memory_budget`` sizes caches and buffers, 1G is its minimum. With 1G and
  ``cpu_count=2`` the server's RSS is about 200-300 MB;
* it bootstraps a fresh base dir in 2-6 s; it is ready when a MySQL connection succeeds;
* it listens on every address (there is no option for loopback only), so the first thing
  done is to give ``root`` a random password;
* at start-up it reads the MAC address of a non-loopback interface that has an IPv4 address
  (for ``UUID()``), and refuses to start without one (a network namespace with only ``lo``);
* it starts no child process; on SIGTERM it ends itself with SIGKILL at once. Its own process
  group is signalled, SIGKILL after a deadline.

Anything that keeps it from running here is a :class:`SeekdbUnavailable` naming what is missing,
which the fixture turns into a skip.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pymysql
from sqlalchemy import URL

PACKAGE = "pylibseekdb"
INSTALL_HINT = "pip install -e '.[test]' (or pip install pylibseekdb)"
USER = "root"
MIN_AVAILABLE_MEMORY = 2 << 30  # seekdb's documented minimum of available memory
# memory_budget: caches and buffers (1G, its minimum); log_disk_size: the redo space (by default
# a share of the whole disk); cpu_count: worker threads as on a 2-core machine.
PARAMETERS = {"memory_budget": "1G", "cpu_count": "2", "log_disk_size": "2G"}
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
_LOG_ERROR = re.compile(r"\] (?:ERROR|EDIAG) .*?\[errcode=-?\d+\] (?P<message>.*?)(?: BACKTRACE:.*)?$")


class SeekdbUnavailable(Exception):
    """seekdb cannot run on this machine; the message says why and what would help."""


@dataclass(frozen=True)
class SeekdbInstall:
    """The server binary inside the installed wheel and the directories of its libraries."""

    binary: Path
    library_dirs: tuple[Path, ...]

    def environment(self) -> dict[str, str]:
        dirs = [str(d) for d in self.library_dirs]
        inherited = os.environ.get("LD_LIBRARY_PATH")
        return {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(dirs + ([inherited] if inherited else []))}


@dataclass
class SeekdbServer:
    """A running server: where it listens and how to log in."""

    host: str
    port: int
    password: str = field(repr=False)
    base_dir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, database: str | None = None) -> str:
        return URL.create("mysql+pymysql", username=USER, password=self.password, host=self.host, port=self.port,
                          database=database, query={"charset": "utf8mb4"}).render_as_string(hide_password=False)

    def connect(self, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(host=self.host, port=self.port, user=USER, password=self.password, database=database,
                               connect_timeout=5, read_timeout=60, autocommit=True)


def find_install() -> SeekdbInstall:
    """The seekdb binary of the installed ``pylibseekdb`` (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SeekdbUnavailable(f"{PACKAGE} is not installed: {INSTALL_HINT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    binary = package_dir / "seekdb"
    if not binary.is_file():
        raise SeekdbUnavailable(f"{PACKAGE} has no seekdb server binary at {binary} (this platform's wheel lacks it)")
    if not os.access(binary, os.X_OK):
        raise SeekdbUnavailable(f"{binary} is not executable")
    libs = package_dir.parent / f"{PACKAGE}.libs"
    return SeekdbInstall(binary, (package_dir, libs) if libs.is_dir() else (package_dir,))


def free_port(host: str) -> int:
    """A port nobody listens on now (the kernel's pick for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_memory() -> None:
    available = psutil.virtual_memory().available
    if available < MIN_AVAILABLE_MEMORY:
        raise SeekdbUnavailable(f"seekdb needs {MIN_AVAILABLE_MEMORY >> 20} MiB of available memory, "
                                f"this machine has {available >> 20} MiB")


def check_network() -> None:
    """seekdb reads the MAC address of an interface that is not loopback and has an IPv4 address."""
    stats = psutil.net_if_stats()
    for name, addresses in psutil.net_if_addrs().items():
        flags = getattr(stats.get(name), "flags", "")
        loopback = "loopback" in flags if flags else name == "lo"
        if not loopback and any(a.family == socket.AF_INET for a in addresses):
            return
    raise SeekdbUnavailable("seekdb needs a network interface besides loopback with an IPv4 address (it reads "
                            "its MAC address at start-up); this network has none (in a network namespace: "
                            "ip link add v0 type veth peer name v1; ip addr add 127.255.0.1/32 dev v0)")


def command(install: SeekdbInstall, base_dir: Path, port: int) -> list[str]:
    parameters = [arg for key, value in PARAMETERS.items() for arg in ("--parameter", f"{key}={value}")]
    return [str(install.binary), "--nodaemon", "--base-dir", str(base_dir), "--port", str(port), *parameters]


@contextmanager
def running_seekdb(base_dir: Path, *, install: SeekdbInstall | None = None, host: str = "127.0.0.1",
                   start_timeout: float = START_TIMEOUT_S) -> Iterator[SeekdbServer]:
    """Start seekdb (the installed wheel's unless ``install`` says) in ``base_dir`` on a free port,
    wait until it serves, lock ``root`` with a random password, and stop it afterwards, whatever
    happens."""
    install = install or find_install()
    check_memory()
    check_network()
    base_dir.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    output = base_dir / "seekdb.out"
    with output.open("wb") as sink:
        try:
            process = subprocess.Popen(command(install, base_dir, port), env=install.environment(), cwd=base_dir,
                                       stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            raise SeekdbUnavailable(f"cannot run {install.binary}: {exc}") from exc
    try:
        wait_until_serving(process, host, port, base_dir, start_timeout)
        password = secrets.token_urlsafe(18)
        set_root_password(host, port, password)
        yield SeekdbServer(host, port, password, base_dir, process)
    finally:
        stop(process)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies without its teardown (a
    killed xdist worker), so no server is left running (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG


def wait_until_serving(process: subprocess.Popen[bytes], host: str, port: int, base_dir: Path,
                       timeout: float) -> None:
    """Poll a MySQL login (fast, then backing off) until it works, seekdb exits, or time is up."""
    deadline = time.monotonic() + timeout
    delay, last_error = 0.05, "no attempt yet"
    while True:
        code = process.poll()
        if code is not None:
            raise SeekdbUnavailable(f"seekdb exited ({exit_status(code)}) while starting: {why_it_failed(base_dir)}")
        try:
            pymysql.connect(host=host, port=port, user=USER, password="", connect_timeout=2).close()
            return
        except pymysql.MySQLError as exc:
            last_error = str(exc)
        if time.monotonic() >= deadline:
            raise SeekdbUnavailable(f"seekdb did not accept a login within {timeout:.0f} s (last: {last_error}); "
                                    f"{why_it_failed(base_dir)}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def set_root_password(host: str, port: int, password: str) -> None:
    connection = pymysql.connect(host=host, port=port, user=USER, password="", connect_timeout=5, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER USER {USER} IDENTIFIED BY %s", (password,))
    finally:
        connection.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there after the deadline.

    Only signalled while the server is not yet reaped, so the group id is still its own."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
    raise RuntimeError(f"seekdb (pid {process.pid}) is still running after SIGKILL")


def exit_status(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def why_it_failed(base_dir: Path) -> str:
    """What seekdb said: the loader's or its own output, and the first errors of its log."""
    said = _tail(base_dir / "seekdb.out")
    errors = logged_errors(base_dir / "log" / "seekdb.log")
    parts = [p for p in (said, "; ".join(errors[:3])) if p]
    return " | ".join(parts) or f"nothing in {base_dir}"


def logged_errors(log_file: Path) -> list[str]:
    """Distinct messages of the ERROR/EDIAG lines of seekdb's log, in order."""
    if not log_file.is_file():
        return []
    messages: list[str] = []
    for line in log_file.read_text(errors="replace").splitlines():
        match = _LOG_ERROR.search(line)
        if match and match["message"] not in messages:
            messages.append(match["message"])
    return messages


def _tail(path: Path, lines: int = 3) -> str:
    if not path.is_file():
        return ""
    kept = [line for line in path.read_text(errors="replace").splitlines()
            if line.strip() and not line.startswith(("Starting seekdb", "Change working directory", "The log file"))]
    return " / ".join(kept[-lines:])
